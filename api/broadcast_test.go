package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestBroadcastOverHTTP submits a broadcast task over HTTP to the bundle's
// one worker, waits for it with a long poll, and reads the worker's answer
// in the record, each answer checked against api/openapi.json; a
// broadcast no live worker handles in its queue is 422 no_workers.
func TestBroadcastOverHTTP(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		app := validated(t, s.app)
		eventually(t, "the pool to report itself", func() bool {
			ws, err := s.client.Workers(t.Context())
			return err == nil && len(ws) == 1
		})
		rec := post(app, `{"name":"count","broadcast":true}`)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("POST /v1/tasks broadcast = %d %s, want 202", rec.Code, rec.Body)
		}
		var sub struct {
			ID        string `json:"id"`
			Status    string `json:"status"`
			Broadcast struct {
				Targets int `json:"targets"`
				Workers map[string]struct {
					Status string          `json:"status"`
					Result json.RawMessage `json:"result"`
				} `json:"workers"`
			} `json:"broadcast"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &sub); err != nil || sub.Broadcast.Targets != 1 || len(sub.Broadcast.Workers) != 1 {
			t.Fatalf("POST /v1/tasks broadcast = %s, %v; want 1 target", rec.Body, err)
		}
		rec = serve(app, newRequest(http.MethodGet, "/v1/tasks/"+sub.ID+"?wait=10s", "", ""))
		done := sub
		if err := json.Unmarshal(rec.Body.Bytes(), &done); err != nil || rec.Code != http.StatusOK || done.Status != "succeeded" {
			t.Fatalf("GET ?wait = %d %s, %v; want succeeded", rec.Code, rec.Body, err)
		}
		for w, a := range done.Broadcast.Workers {
			if a.Status != "succeeded" || string(a.Result) != `{"count":1}` {
				t.Errorf("answer of worker %s = %+v, want succeeded with the count", w, a)
			}
		}
		rec = post(app, `{"name":"count","queue":"nobody","broadcast":true}`)
		errorOf(t, rec, http.StatusUnprocessableEntity)
		var body struct{ Code string }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Code != "no_workers" {
			t.Errorf("POST broadcast with no worker = %s, want code no_workers", rec.Body)
		}
	})
}
