package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/api"
)

func TestSubmitThenWaitReturnsResult(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		payload := `{"greeting":"hello","n":[1,2.5,"three"],"nested":{"ok":true,"nothing":null}}`
		rec := post(s.app, `{"name":"echo","payload":`+payload+`}`)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("POST /v1/tasks = %d %s, want 202", rec.Code, rec.Body)
		}
		sub := decodeRecord(t, rec)
		id, err := uuid.Parse(sub.ID)
		if err != nil || id.Version() != 7 || id.Variant() != uuid.RFC4122 || sub.ID != id.String() {
			t.Errorf("id = %q, want a canonical RFC 4122 UUID v7", sub.ID)
		}
		loc := rec.Header().Get("Location")
		if want := "/v1/tasks/" + sub.ID; loc != want {
			t.Fatalf("Location = %q, want %q", loc, want)
		}
		if sub.Status != "queued" || sub.Name != "echo" || sub.Queue != "default" || sub.Attempts != 0 {
			t.Errorf("submitted record = %+v, want status queued, name echo, queue default, attempts 0", sub)
		}
		if sub.MaxRetries != 3 || sub.Timeout != "30m0s" || sub.ResultTTL != "24h0m0s" {
			t.Errorf("submitted options = max_retries %d, timeout %q, result_ttl %q; want the client's defaults 3, 30m0s, 24h0m0s",
				sub.MaxRetries, sub.Timeout, sub.ResultTTL)
		}
		if !jsonEqual(t, sub.Payload, []byte(payload)) {
			t.Errorf("submitted payload = %s, want %s", sub.Payload, payload)
		}
		checkTime(t, "created_at", sub.CreatedAt)
		if sub.StartedAt != nil || sub.FinishedAt != nil || sub.Result != nil {
			t.Errorf("queued record has started_at %v, finished_at %v, result %s; want none", sub.StartedAt, sub.FinishedAt, sub.Result)
		}

		got := get(t, s.app, loc+"?wait=5s")
		if got.ID != sub.ID || got.Status != "succeeded" || got.Attempts != 1 || got.Error != "" {
			t.Fatalf("GET %s?wait=5s = %+v, want the same id, status succeeded, attempts 1, no error", loc, got)
		}
		if !jsonEqual(t, got.Result, []byte(payload)) {
			t.Errorf("result = %s, want the payload echoed %s", got.Result, payload)
		}
		if !jsonEqual(t, got.Payload, []byte(payload)) {
			t.Errorf("payload = %s, want %s", got.Payload, payload)
		}
		created := checkTime(t, "created_at", got.CreatedAt)
		started := checkTime(t, "started_at", got.StartedAt)
		finished := checkTime(t, "finished_at", got.FinishedAt)
		if *got.CreatedAt != *sub.CreatedAt {
			t.Errorf("created_at = %s, want %s as at submission", *got.CreatedAt, *sub.CreatedAt)
		}
		if started.Before(created) || finished.Before(started) {
			t.Errorf("created_at %s, started_at %s, finished_at %s: want them in order", created, started, finished)
		}
	})
}

func TestSubmitOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		contentType string
		body        string
		want        record // compared: queue, max_retries, timeout, result_ttl, payload
	}{
		{
			name: "every option", contentType: "application/json",
			body: `{"name":"echo","queue":"parked","max_retries":7,"timeout":"90s","result_ttl":"1h","payload":[1]}`,
			want: record{Queue: "parked", MaxRetries: 7, Timeout: "1m30s", ResultTTL: "1h0m0s", Payload: json.RawMessage(`[1]`)},
		},
		{
			name: "zero retries is kept", contentType: "application/json",
			body: `{"name":"echo","queue":"parked","max_retries":0}`,
			want: record{Queue: "parked", MaxRetries: 0, Timeout: "30m0s", ResultTTL: "24h0m0s", Payload: json.RawMessage(`null`)},
		},
		{
			name: "handler default of no retries", contentType: "application/json",
			body: `{"name":"fail","queue":"parked"}`,
			want: record{Queue: "parked", MaxRetries: 0, Timeout: "30m0s", ResultTTL: "24h0m0s", Payload: json.RawMessage(`null`)},
		},
		{
			name: "charset parameter", contentType: "application/json; charset=utf-8",
			body: `{"name":"echo","queue":"parked","payload":"é"}`,
			want: record{Queue: "parked", MaxRetries: 3, Timeout: "30m0s", ResultTTL: "24h0m0s", Payload: json.RawMessage(`"é"`)},
		},
		{
			name: "upper bounds", contentType: "application/json",
			body: `{"name":"echo","queue":"parked","max_retries":1000,"timeout":"24h","result_ttl":"720h"}`,
			want: record{Queue: "parked", MaxRetries: 1000, Timeout: "24h0m0s", ResultTTL: "720h0m0s", Payload: json.RawMessage(`null`)},
		},
	}
	eachBackend(t, func(t *testing.T, s *bundle) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				rec := serve(s.app, newRequest(http.MethodPost, "/v1/tasks", tt.contentType, tt.body))
				if rec.Code != http.StatusAccepted {
					t.Fatalf("POST %s = %d %s, want 202", tt.body, rec.Code, rec.Body)
				}
				sub := decodeRecord(t, rec)
				for _, got := range []record{sub, get(t, s.app, "/v1/tasks/"+sub.ID)} {
					if got.Status != "queued" || got.Queue != tt.want.Queue || got.MaxRetries != tt.want.MaxRetries ||
						got.Timeout != tt.want.Timeout || got.ResultTTL != tt.want.ResultTTL {
						t.Errorf("record = %+v, want status queued, queue %q, max_retries %d, timeout %q, result_ttl %q",
							got, tt.want.Queue, tt.want.MaxRetries, tt.want.Timeout, tt.want.ResultTTL)
					}
					if !jsonEqual(t, got.Payload, tt.want.Payload) {
						t.Errorf("payload = %s, want %s", got.Payload, tt.want.Payload)
					}
				}
			})
		}
	})
}

func TestWaitReturnsWhenTaskFinishes(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		sub := s.submit(t, `{"name":"sleep","payload":{"ms":200}}`)
		start := time.Now()
		got := get(t, s.app, "/v1/tasks/"+sub.ID+"?wait=10s")
		if got.Status != "succeeded" || string(got.Result) != `{"slept_ms":200}` {
			t.Fatalf("GET ?wait=10s = status %q result %s, want succeeded {\"slept_ms\":200}", got.Status, got.Result)
		}
		// A wait that is never woken re-reads the record at its timeout, so
		// the status alone cannot tell a notification from the timeout.
		if elapsed := time.Since(start); elapsed >= 9*time.Second {
			t.Errorf("GET ?wait=10s returned after %s: it waited out its timeout instead of waking when the task finished", elapsed)
		}
	})
}

func TestWaitTimesOutWithCurrentRecord(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		sub := s.submit(t, `{"name":"sleep","payload":{"ms":600000}}`)
		for _, q := range []string{"?wait=100ms", "?wait=0s", ""} {
			got := get(t, s.app, "/v1/tasks/"+sub.ID+q)
			if got.ID != sub.ID || (got.Status != "queued" && got.Status != "running") || got.FinishedAt != nil {
				t.Errorf("GET %s on a 10-minute sleep = status %q finished_at %v, want its current queued or running record",
					q, got.Status, got.FinishedAt)
			}
		}
	})
}

func TestWaitIsCappedByMaxWait(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		app := s.api(api.Config{MaxWait: 200 * time.Millisecond})
		g := s.gate("capped")
		sub := s.submit(t, `{"name":"block","payload":{"gate":"capped"}}`)
		waitClosed(t, g.started, "the block task to start")
		target := "/v1/tasks/" + sub.ID + "?wait=1000h"
		done := make(chan *httptest.ResponseRecorder, 1)
		go func() { done <- serve(app, newRequest(http.MethodGet, target, "", "")) }()
		select {
		case rec := <-done:
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d %s, want 200", target, rec.Code, rec.Body)
			}
			if got := decodeRecord(t, rec); got.Status != "running" {
				t.Errorf("GET ?wait=1000h with MaxWait 200ms = status %q, want running (the task is held)", got.Status)
			}
		case <-time.After(deadline):
			g.open() // let the request end before the test does
			<-done
			t.Fatalf("GET ?wait=1000h with MaxWait 200ms still waiting after %s: the wait is not capped", deadline)
		}
	})
}

func TestManyWaitersGetTerminalRecord(t *testing.T) {
	t.Parallel()
	const waiters = 50
	eachBackend(t, func(t *testing.T, s *bundle) {
		srv := s.server(t)
		g := s.gate("many")
		sub := s.submit(t, `{"name":"block","payload":{"gate":"many"}}`)
		url := fmt.Sprintf("%s/v1/tasks/%s?wait=%s", srv.URL, sub.ID, testMaxWait)

		type answer struct {
			code int
			rec  record
			err  error
		}
		answers := make(chan answer, waiters)
		for range waiters {
			go func() {
				resp, err := srv.Client().Get(url)
				if err != nil {
					answers <- answer{err: err}
					return
				}
				defer resp.Body.Close()
				var a answer
				a.code = resp.StatusCode
				a.err = json.NewDecoder(resp.Body).Decode(&a.rec)
				answers <- a
			}()
		}
		eventually(t, fmt.Sprintf("%d waiters on the watcher", waiters), func() bool { return s.watcher.Waiting() == waiters })
		g.open()
		timeout := time.After(deadline)
		for i := range waiters {
			select {
			case a := <-answers:
				if a.err != nil || a.code != http.StatusOK || a.rec.Status != "succeeded" || string(a.rec.Result) != `{"released":true}` {
					t.Errorf("waiter %d: GET = %d %+v (err %v), want 200 succeeded {\"released\":true}", i, a.code, a.rec, a.err)
				}
			case <-timeout:
				t.Fatalf("%d of %d waiters still waiting %s after the task finished", waiters-i, waiters, deadline)
			}
		}
	})
}

func TestWaitEndsWhenClientGoes(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		srv := s.server(t)
		sub := s.submit(t, `{"name":"block","payload":{"gate":"abandoned"}}`)
		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/tasks/"+sub.ID+"?wait=30s", nil)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			resp, err := srv.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		eventually(t, "the long poll to start waiting", func() bool { return s.watcher.Waiting() == 1 })
		cancel()
		if err := <-done; err == nil {
			t.Errorf("GET after the client cancelled = nil error, want the cancellation")
		}
		eventually(t, "the server to stop waiting for a client that left", func() bool { return s.watcher.Waiting() == 0 })
	})
}

func TestFailuresAndRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		body         string
		wantAttempts int
		wantError    string // a substring of the record's error
	}{
		{"fail retried twice", `{"name":"fail","payload":{"message":"boom"},"max_retries":2}`, 3, "boom"},
		{"fail without retries", `{"name":"fail","max_retries":0}`, 1, "failed on purpose"},
		{"handler default of no retries", `{"name":"fail"}`, 1, "failed on purpose"},
		{"skip retry", `{"name":"skip","payload":{"reason":"bad url"},"max_retries":5}`, 1, "bad url"},
		{"undecodable typed payload", `{"name":"sleep","payload":"abc","max_retries":5}`, 1, "payload does not decode"},
		{"panic", `{"name":"panic","max_retries":1}`, 2, "handler exploded"},
	}
	eachBackend(t, func(t *testing.T, s *bundle) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				sub := s.submit(t, tt.body)
				got := get(t, s.app, "/v1/tasks/"+sub.ID+"?wait=10s")
				if got.Status != "failed" || got.Attempts != tt.wantAttempts || !strings.Contains(got.Error, tt.wantError) {
					t.Errorf("GET ?wait=10s = status %q attempts %d error %q, want failed, %d attempts, error containing %q",
						got.Status, got.Attempts, got.Error, tt.wantAttempts, tt.wantError)
				}
				if got.Result != nil {
					t.Errorf("failed record has result %s, want none", got.Result)
				}
				checkTime(t, "finished_at", got.FinishedAt)
			})
		}
	})
}
