package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestIdempotencyKeyOverHTTP: 50 clients POST one Idempotency-Key at once
// over real connections: one 202, 49 replays (200, Idempotent-Replayed,
// "replayed": true), all naming one task; the same key with another body
// is 422 and writes nothing.
func TestIdempotencyKeyOverHTTP(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		srv := s.server(t)
		const n = 50
		type answer struct {
			status   int
			replayed string
			raw      string
			rec      record
		}
		answers := make([]answer, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/tasks", strings.NewReader(`{"name":"echo","payload":{"order":7}}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", "order-7")
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Errorf("POST %d: %v", i, err)
					return
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				answers[i] = answer{status: resp.StatusCode, replayed: resp.Header.Get("Idempotent-Replayed"), raw: string(raw)}
				if err := json.Unmarshal(raw, &answers[i].rec); err != nil {
					t.Errorf("POST %d: %d %s", i, resp.StatusCode, raw)
				}
			})
		}
		close(start)
		wg.Wait()
		fresh := 0
		for i, a := range answers {
			if a.rec.ID != answers[0].rec.ID {
				t.Fatalf("POST %d = task %s, POST 0 = %s: want one task", i, a.rec.ID, answers[0].rec.ID)
			}
			switch {
			case a.status == http.StatusAccepted && a.replayed == "":
				fresh++
			case a.status == http.StatusOK && a.replayed == "true" && strings.Contains(a.raw, `"replayed":true`):
			default:
				t.Errorf("POST %d = %d, Idempotent-Replayed %q; want 202, or 200 and true", i, a.status, a.replayed)
			}
		}
		if fresh != 1 {
			t.Errorf("%d answers 202, want 1", fresh)
		}
		get(t, s.app, "/v1/tasks/"+answers[0].rec.ID+"?wait=10s") // the pool is done with it
		before := s.keys(t)
		req := newRequest(http.MethodPost, "/v1/tasks", "application/json", `{"name":"echo","payload":{"order":8}}`)
		req.Header.Set("Idempotency-Key", "order-7")
		rec := serve(s.app, req)
		errorOf(t, rec, http.StatusUnprocessableEntity)
		if code := errorCode(t, rec.Body.Bytes()); code != "idempotency_mismatch" {
			t.Errorf("code = %q, want idempotency_mismatch", code)
		}
		if !strings.Contains(rec.Body.String(), `"task_id":"`+answers[0].rec.ID+`"`) {
			t.Errorf("422 body = %s, want task_id %s (the key's holder)", rec.Body, answers[0].rec.ID)
		}
		s.checkKeysUnchanged(t, before)
		// The body's key and a different header: refused.
		req = newRequest(http.MethodPost, "/v1/tasks", "application/json", `{"name":"echo","idempotency_key":"x"}`)
		req.Header.Set("Idempotency-Key", "y")
		errorOf(t, serve(s.app, req), http.StatusBadRequest)
	})
}

func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var b struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	return b.Code
}

// TestUniqueOverHTTP: a held unique key returns its holder (200, replayed)
// or, with "on_conflict": "reject", 409 naming it.
func TestUniqueOverHTTP(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		body := `{"name":"echo","unique":{"key":"nightly","for":"10m"}}`
		first := s.submit(t, body)
		rec := post(s.app, body)
		if rec.Code != http.StatusOK || rec.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("POST again = %d %s, want 200 replayed", rec.Code, rec.Body)
		}
		if got := decodeRecord(t, rec); got.ID != first.ID || !strings.Contains(rec.Body.String(), `"replayed":true`) {
			t.Fatalf("POST again = %s, want %s, replayed", rec.Body, first.ID)
		}
		get(t, s.app, "/v1/tasks/"+first.ID+"?wait=10s") // the pool is done with it
		before := s.keys(t)
		rec = post(s.app, `{"name":"echo","unique":{"key":"nightly","for":"10m"},"on_conflict":"reject"}`)
		errorOf(t, rec, http.StatusConflict)
		var e struct {
			Code   string `json:"code"`
			TaskID string `json:"task_id"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code != "duplicate" || e.TaskID != first.ID {
			t.Errorf("409 body %s: want code duplicate, task_id %s", rec.Body, first.ID)
		}
		s.checkKeysUnchanged(t, before)
		for _, bad := range []string{
			`{"name":"echo","unique":{"key":"k"}}`,
			`{"name":"echo","unique":{"key":"k","for":"1m","until":"started"}}`,
			`{"name":"echo","unique":{"key":"k","until":"later"}}`,
			`{"name":"echo","on_conflict":"reject"}`,
		} {
			errorOf(t, post(s.app, bad), http.StatusBadRequest)
		}
	})
}

// TestKeyedBatchOverHTTP: a batch's tasks carry "idempotency_key"; the
// batch sent again is 200 with every record replayed.
func TestKeyedBatchOverHTTP(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		body := `{"tasks":[{"name":"echo","idempotency_key":"a"},{"name":"echo","idempotency_key":"b"}]}`
		send := func() (int, []record, string) {
			rec := serve(s.app, newRequest(http.MethodPost, "/v1/tasks/batch", "application/json", body))
			var out struct {
				Tasks []record `json:"tasks"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || len(out.Tasks) != 2 {
				t.Fatalf("POST batch = %d %s", rec.Code, rec.Body)
			}
			return rec.Code, out.Tasks, rec.Body.String()
		}
		code, first, _ := send()
		if code != http.StatusAccepted {
			t.Fatalf("POST batch = %d, want 202", code)
		}
		code, again, raw := send()
		if code != http.StatusOK || again[0].ID != first[0].ID || again[1].ID != first[1].ID || strings.Count(raw, `"replayed":true`) != 2 {
			t.Fatalf("POST batch again = %d %s, want 200 with the same tasks, replayed", code, raw)
		}
	})
}

// TestBatchIdempotencyHeader: a batch with an Idempotency-Key header is
// refused (400) before the body is read, rather than run with the key
// ignored.
func TestBatchIdempotencyHeader(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		req := newRequest(http.MethodPost, "/v1/tasks/batch", "application/json", `{"tasks":[{"name":"echo"}]}`)
		req.Header.Set("Idempotency-Key", "k")
		if rec := serve(s.app, req); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "idempotency_key") {
			t.Errorf("POST batch with Idempotency-Key = %d %s, want 400 naming idempotency_key", rec.Code, rec.Body)
		}
	})
}
