package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/runq/runq/broker/redistest"
)

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	tests := []struct {
		target     string
		wantStatus string
	}{
		{"/healthz", "ok"},
		{"/readyz", "ready"},
	}
	eachBackend(t, func(t *testing.T, s *bundle) {
		for _, tt := range tests {
			rec := serve(s.app, newRequest(http.MethodGet, tt.target, "", ""))
			if rec.Code != http.StatusOK {
				t.Errorf("GET %s = %d %s, want 200", tt.target, rec.Code, rec.Body)
				continue
			}
			checkJSONType(t, rec)
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["status"] != tt.wantStatus {
				t.Errorf("GET %s body = %s, want {\"status\":%q}", tt.target, rec.Body, tt.wantStatus)
			}
		}
	})
}

// TestStorageDown closes the backend under a running API: readiness and
// every task endpoint answer 503 with a JSON error free of the network
// detail, and liveness stays 200.
func TestStorageDown(t *testing.T) {
	t.Parallel()
	// No pool: one still starting up would fail on the closed server.
	s := setupIdle(t, redistest.Mini(t))
	// The submission also caches the name "echo" in the client.
	known := s.submit(t, `{"name":"echo","queue":"parked"}`)
	if rec := serve(s.app, newRequest(http.MethodGet, "/readyz", "", "")); rec.Code != http.StatusOK {
		t.Fatalf("GET /readyz before closing = %d %s, want 200", rec.Code, rec.Body)
	}
	s.be.Mini.Close()

	tests := []struct {
		name   string
		method string
		target string
		body   string
		want   int
	}{
		{"readyz", "GET", "/readyz", "", http.StatusServiceUnavailable},
		{"submit known name", "POST", "/v1/tasks", `{"name":"echo"}`, http.StatusServiceUnavailable},
		{"submit name not cached", "POST", "/v1/tasks", `{"name":"sleep"}`, http.StatusServiceUnavailable},
		{"get", "GET", "/v1/tasks/" + known.ID, "", http.StatusServiceUnavailable},
		{"get with wait", "GET", "/v1/tasks/" + known.ID + "?wait=1s", "", http.StatusServiceUnavailable},
		{"cancel", "DELETE", "/v1/tasks/" + known.ID, "", http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each waits for go-redis to give up dialling
			ct := ""
			if tt.body != "" {
				ct = "application/json"
			}
			errorOf(t, serve(validated(t, s.app), newRequest(tt.method, tt.target, ct, tt.body)), tt.want)
		})
	}
	if rec := serve(s.app, newRequest(http.MethodGet, "/healthz", "", "")); rec.Code != http.StatusOK {
		t.Errorf("GET /healthz with storage down = %d %s, want 200", rec.Code, rec.Body)
	}
}

// TestInternalErrorHidesDetail reads a corrupt record: 500 with a generic
// message and the request ID, nothing of the cause.
func TestInternalErrorHidesDetail(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		id := uuid.Must(uuid.NewV7())
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		key := s.be.Keys.Task(id)
		if err := s.be.Client.HSet(ctx, key, redistest.FieldMeta, "0,0,0,default,echo", redistest.FieldStatus, "exploded").Err(); err != nil {
			t.Fatalf("HSET %s: %v", key, err)
		}
		for _, target := range []string{"/v1/tasks/" + id.String(), "/v1/tasks/" + id.String() + "?wait=1s"} {
			rec := serve(validated(t, s.app), newRequest(http.MethodGet, target, "", ""))
			msg := errorOf(t, rec, http.StatusInternalServerError)
			if msg != "internal error" {
				t.Errorf("GET %s: error %q, want \"internal error\"", target, msg)
			}
			var body struct {
				RequestID string `json:"request_id"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if hdr := rec.Header().Get("X-Request-Id"); body.RequestID == "" || body.RequestID != hdr {
				t.Errorf("GET %s: request_id %q, want the X-Request-Id header %q", target, body.RequestID, hdr)
			}
		}
	})
}
