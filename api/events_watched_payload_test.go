package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/tasks"
)

// TestTaskEventsWatchedPayload: watching a queued task marks its stored
// payload (broker's watchMark), in front of the webhook's mark and of the
// packed form. The payload still reads back unchanged through GET and
// through the handler (echo returns it), the worker notes the start in the
// stream, and a task with a callback URL still schedules its webhook.
func TestTaskEventsWatchedPayload(t *testing.T) {
	t.Parallel()
	var items []string
	for i := range 40 { // about 1.5 KiB of repeats: stored packed
		items = append(items, fmt.Sprintf(`{"id":%d,"sku":"SKU-%05d","qty":%d}`, i, i*7, i%5))
	}
	big := `{"items":[` + strings.Join(items, ",") + `]}`
	const hook = "https://hooks.invalid/runq" // a name that never resolves: nothing is sent
	for _, tc := range []struct {
		name, payload, callback string
	}{
		{"short", `{"n":1}`, ""},
		{"packed", big, ""},
		{"short with callback", `{"n":2}`, hook},
		{"packed with callback", big, hook},
	} {
		// Backends per case: each has its own prefix, so its own queue.
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, be := range redistest.Backends(t) {
				t.Run(be.Name, func(t *testing.T) {
					t.Parallel()
					s := setupIdle(t, be)
					srv := s.server(t)
					body := `{"name":"echo","payload":` + tc.payload
					if tc.callback != "" {
						body += `,"callback_url":"` + tc.callback + `"`
					}
					sub := s.submit(t, body+"}")
					r := openEvents(t, srv.URL, sub.ID, "")
					if first, ok := nextEvent(t, r); !ok || first.rec.Status != "queued" || string(first.rec.Payload) != tc.payload {
						t.Fatalf("first event = %+v, want status queued with the payload", first)
					}
					if got := get(t, s.app, "/v1/tasks/"+sub.ID); string(got.Payload) != tc.payload {
						t.Fatalf("GET(%q) payload = %s, want %s", sub.ID, got.Payload, tc.payload)
					}
					var poolLog logBuffer // a failed note of the start is logged
					s.poolLog = slog.New(slog.NewTextHandler(&poolLog, nil))
					s.startPool(t, tasks.DefaultQueue, 1)
					evs := readEvents(t, r)
					if got, want := summary(evs), "status:running end:succeeded"; got != want {
						t.Fatalf("events = %s, want %s\n%s\npool log:\n%s", got, want, storedTask(t, be, sub.ID), poolLog.String())
					}
					end := evs[len(evs)-1].rec
					if string(end.Result) != tc.payload || string(end.Payload) != tc.payload {
						t.Errorf("end record payload %s, result %s; want %s for both", end.Payload, end.Result, tc.payload)
					}
					var webhook struct {
						Webhook json.RawMessage `json:"webhook"`
					}
					rec := serve(s.app, newRequest(http.MethodGet, "/v1/tasks/"+sub.ID, "", ""))
					if err := json.Unmarshal(rec.Body.Bytes(), &webhook); err != nil {
						t.Fatalf("GET(%q) = %s: %v", sub.ID, rec.Body, err)
					}
					if scheduled := len(webhook.Webhook) > 0 && string(webhook.Webhook) != "null"; scheduled != (tc.callback != "") {
						t.Errorf("GET(%q) webhook = %s, want one scheduled: %v", sub.ID, webhook.Webhook, tc.callback != "")
					}
				})
			}
		})
	}
}

// logBuffer collects a logger's lines from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// storedTask renders what Redis holds of task id, its hash and its event
// stream, for a failure message.
func storedTask(t *testing.T, be redistest.Backend, id string) string {
	t.Helper()
	tid, err := uuid.Parse(id)
	if err != nil {
		return fmt.Sprintf("task ID %q: %v", id, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hash, herr := be.Client.HGetAll(ctx, be.Keys.Task(tid)).Result()
	stream, serr := be.Client.XRange(ctx, be.Keys.TaskEvents(tid), "-", "+").Result()
	return fmt.Sprintf("hash %q (%v)\nstream %v (%v)", hash, herr, stream, serr)
}
