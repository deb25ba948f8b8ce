package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/cmd/internal/proctest"
)

// TestIdempotencyAcrossAPIProcesses runs two `runq all` processes on one
// real Redis; 50 clients POST one Idempotency-Key to them at once, half to
// each: one task, one 202, and every answer names it.
func TestIdempotencyAcrossAPIProcesses(t *testing.T) {
	t.Parallel()
	be, ok := redistest.Real(t)
	if !ok {
		t.Skip("needs a real Redis: set REDIS_URL")
	}
	bin := runqBin.Path(t)
	var bases []string
	for range 2 {
		_, base := proctest.StartAPI(t, bin, "all", "--redis", be.URL, "--prefix", be.Prefix, "--addr", "127.0.0.1:0")
		bases = append(bases, base)
	}
	const n = 50
	ids := make([]string, n)
	codes := make([]int, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			req, _ := http.NewRequest(http.MethodPost, bases[i%2]+"/v1/tasks", strings.NewReader(`{"name":"echo","payload":{"order":7}}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "order-7")
			resp, err := proctest.HTTPClient.Do(req)
			if err != nil {
				t.Errorf("POST %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var rec struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(raw, &rec); err != nil || rec.ID == "" {
				t.Errorf("POST %d = %d %s", i, resp.StatusCode, raw)
			}
			ids[i], codes[i] = rec.ID, resp.StatusCode
		})
	}
	close(start)
	wg.Wait()
	accepted := 0
	for i := range n {
		if ids[i] != ids[0] {
			t.Fatalf("POST %d = task %s, POST 0 = %s: want one task", i, ids[i], ids[0])
		}
		if codes[i] == http.StatusAccepted {
			accepted++
		}
	}
	if accepted != 1 {
		t.Errorf("%d answers 202, want 1 (the others 200)", accepted)
	}
}
