package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestBroadcastRetryOverHTTP: a broadcast task canceled while its queue
// is paused (so that the one worker has not run it) is not retried: 409
// not_retryable, and it stays canceled.
func TestBroadcastRetryOverHTTP(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		app := validated(t, s.app)
		eventually(t, "the pool to report itself", func() bool {
			ws, err := s.client.Workers(t.Context())
			return err == nil && len(ws) == 1
		})
		if err := s.client.PauseQueue(t.Context(), "default"); err != nil {
			t.Fatal(err)
		}
		rec := post(app, `{"name":"count","broadcast":true}`)
		var sub struct{ ID string }
		if err := json.Unmarshal(rec.Body.Bytes(), &sub); err != nil || rec.Code != http.StatusAccepted {
			t.Fatalf("POST /v1/tasks broadcast = %d %s, want 202", rec.Code, rec.Body)
		}
		if rec := serve(app, newRequest(http.MethodDelete, "/v1/tasks/"+sub.ID, "", "")); rec.Code != http.StatusOK {
			t.Fatalf("DELETE /v1/tasks/%s = %d %s, want 200", sub.ID, rec.Code, rec.Body)
		}
		rec = serve(app, newRequest(http.MethodPost, "/v1/tasks/"+sub.ID+"/retry", "", ""))
		errorOf(t, rec, http.StatusConflict)
		var body struct{ Code string }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Code != "not_retryable" {
			t.Errorf("POST retry of a canceled broadcast = %s, want code not_retryable", rec.Body)
		}
		rec = serve(app, newRequest(http.MethodGet, "/v1/tasks/"+sub.ID, "", ""))
		var got struct{ Status string }
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Status != "canceled" {
			t.Errorf("GET /v1/tasks/%s = %s, want canceled", sub.ID, rec.Body)
		}
	})
}
