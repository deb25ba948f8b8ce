package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/api"
	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// TestHTTPDetails checks what every answer shares: runq's own words and a
// code in every error, Allow on 405, HEAD wherever GET is.
func TestHTTPDetails(t *testing.T) {
	t.Parallel()
	s := setupIdle(t, redistest.Mini(t))
	small := s.api(api.Config{BodyLimit: 256})
	sub := s.submit(t, `{"name":"echo","queue":"parked"}`)
	tests := []struct {
		name         string
		app          http.Handler
		method, path string
		body         string
		status       int
		error, code  string
		allow        string
	}{
		{"no route", s.app, "GET", "/nope", "", 404, "not found", "no_route", ""},
		{"no such version", s.app, "POST", "/v2/tasks", `{"name":"echo"}`, 404, "not found", "no_route", ""},
		{"DELETE on the collection", s.app, "DELETE", "/v1/tasks", "", 405, "method not allowed", "method_not_allowed", "GET, HEAD, POST"},
		{"PUT on a task", s.app, "PUT", "/v1/tasks/" + sub.ID, `{}`, 405, "method not allowed", "method_not_allowed", "DELETE, GET, HEAD"},
		{"body over the limit", small, "POST", "/v1/tasks", `{"name":"echo","payload":"` + strings.Repeat("x", 300) + `"}`,
			413, "request body over 256 bytes", "too_large", ""},
		{"unknown task", s.app, "GET", "/v1/tasks/0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77", "", 404, "task not found", "not_found", ""},
		{"bad id", s.app, "GET", "/v1/tasks/xyz", "", 400, `invalid task id "xyz"`, "invalid", ""},
		{"unknown name", s.app, "POST", "/v1/tasks", `{"name":"nope"}`, 422, `"nope"`, "unknown_name", ""},
		{"bad option", s.app, "POST", "/v1/tasks", `{"name":"echo","timeout":"soon"}`, 400, `field "timeout"`, "invalid", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := ""
			if tt.body != "" {
				ct = "application/json"
			}
			rec := serve(tt.app, newRequest(tt.method, tt.path, ct, tt.body))
			msg := errorOf(t, rec, tt.status)
			var body struct{ Code string }
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if !strings.Contains(msg, tt.error) || body.Code != tt.code {
				t.Errorf("%s %s = %q (code %q), want one containing %q, code %q", tt.method, tt.path, msg, body.Code, tt.error, tt.code)
			}
			if allow := rec.Header().Get("Allow"); !strings.Contains(allow, tt.allow) || (tt.status == 405) != (allow != "") {
				t.Errorf("%s %s: Allow %q, want it to contain %q on a 405 only", tt.method, tt.path, allow, tt.allow)
			}
		})
	}

	for _, path := range []string{"/healthz", "/readyz", "/v1/tasks/" + sub.ID, "/v1/tasks/" + sub.ID + "?wait=10ms"} {
		get := serve(s.app, newRequest(http.MethodGet, path, "", ""))
		head := serve(s.app, newRequest(http.MethodHead, path, "", ""))
		if head.Code != get.Code || head.Header().Get("Content-Type") != get.Header().Get("Content-Type") || get.Code != http.StatusOK {
			t.Errorf("HEAD %s = %d %q, GET = %d %q; want the same status and type, 200", path, head.Code,
				head.Header().Get("Content-Type"), get.Code, get.Header().Get("Content-Type"))
		}
	}
	if head := serve(s.app, newRequest(http.MethodHead, "/v1/tasks/0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77", "", "")); head.Code != 404 || head.Body.Len() != 0 {
		t.Errorf("HEAD of an unknown task = %d %q, want 404 with no body", head.Code, head.Body)
	}
}

// TestRedisRefusingWrites runs the API on a Redis that answers but
// refuses writes: submissions are 503 in runq's words, with Retry-After,
// and /readyz says why.
func TestRedisRefusingWrites(t *testing.T) {
	t.Parallel()
	for reply, why := range map[string]string{
		"OOM command not allowed when used memory > 'maxmemory'.":                                          "Redis is out of memory (maxmemory reached)",
		"READONLY You can't write against a read only replica.":                                            "Redis is a read-only replica",
		"MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.": "Redis cannot save to disk (MISCONF)",
		"LOADING Redis is loading the dataset in memory":                                                   "Redis is loading its data",
		"ERR max number of clients reached":                                                                "Redis has reached its client limit (maxclients)",
	} {
		s := setupIdle(t, redistest.Mini(t)) // registers the names
		rdb := redis.NewClient(&redis.Options{Addr: s.be.Mini.Addr()})
		t.Cleanup(func() { rdb.Close() })
		redistest.RefuseWrites(rdb, reply)
		b := broker.New(rdb, s.be.Prefix)
		c := tasks.NewClient(rdb, tasks.ClientConfig{Prefix: s.be.Prefix})
		t.Cleanup(func() { c.Close() })
		app := api.New(api.Config{Logger: quiet}, c, results.NewWatcher(b, quiet), b)

		rec := post(app, `{"name":"echo"}`)
		if msg := errorOf(t, rec, http.StatusServiceUnavailable); msg != why+": task not queued" || rec.Header().Get("Retry-After") != "1" {
			t.Errorf("POST with Redis replying %q = %q (Retry-After %q), want %q and Retry-After 1", reply, msg,
				rec.Header().Get("Retry-After"), why+": task not queued")
		}
		rec = serve(app, newRequest(http.MethodPost, "/v1/tasks/batch", "application/json", `{"tasks":[{"name":"echo"}]}`))
		if msg := errorOf(t, rec, http.StatusServiceUnavailable); msg != why+": no task queued" {
			t.Errorf("POST batch with Redis replying %q = %q, want %q", reply, msg, why+": no task queued")
		}
		rec = serve(app, newRequest(http.MethodGet, "/readyz", "", ""))
		var ready struct{ Status, Error string }
		if err := json.Unmarshal(rec.Body.Bytes(), &ready); err != nil || rec.Code != http.StatusServiceUnavailable ||
			ready.Status != "unavailable" || ready.Error != why || rec.Header().Get("Retry-After") != "1" {
			t.Errorf("GET /readyz with Redis replying %q = %d %s, want 503 unavailable saying %q", reply, rec.Code, rec.Body, why)
		}
	}
}

// TestClientHangUpIsNotAnError checks that a request whose client left
// before Redis answered is not logged as an internal error.
func TestClientHangUpIsNotAnError(t *testing.T) {
	t.Parallel()
	s := setupIdle(t, redistest.Mini(t))
	var logs bytes.Buffer
	app := s.api(api.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := newRequest(http.MethodGet, "/v1/tasks/"+uuid.NewString(), "", "").WithContext(ctx)
	serve(app, req)
	if strings.Contains(logs.String(), "internal error") {
		t.Errorf("a request whose client hung up was logged as an internal error:\n%s", logs.String())
	}
	// The same request from a client still there is answered.
	rec := serve(app, newRequest(http.MethodGet, "/v1/tasks/"+uuid.NewString(), "", ""))
	if msg := errorOf(t, rec, http.StatusNotFound); msg != "task not found" {
		t.Errorf("GET of an unknown task = %q, want \"task not found\"", msg)
	}
}
