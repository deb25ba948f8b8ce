package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestDelayedSubmissions submits over HTTP with delay and run_at, alone
// and in a batch beside tasks to run at once: each answer and GET shows
// the status and run_at, the tasks held back start no earlier than their
// run_at, and a scheduled task canceled never runs.
func TestDelayedSubmissions(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		delayed := s.submit(t, `{"name":"echo","payload":1,"delay":"300ms"}`)
		created, runAt := checkTime(t, "created_at", delayed.CreatedAt), checkTime(t, "run_at", delayed.RunAt)
		if delayed.Status != "scheduled" || runAt.Sub(created) != 300*time.Millisecond {
			t.Fatalf("POST with delay 300ms = %s, created_at %v, run_at %v; want scheduled, run_at 300ms after", delayed.Status, created, runAt)
		}
		if got := get(t, s.app, "/v1/tasks/"+delayed.ID); got.Status != "scheduled" || *got.RunAt != *delayed.RunAt {
			t.Fatalf("GET before due = %s run_at %v, want scheduled, run_at %s", got.Status, got.RunAt, *delayed.RunAt)
		}
		past := s.submit(t, `{"name":"echo","run_at":"2001-02-03T04:05:06+07:00"}`)
		if past.Status != "queued" || past.RunAt != nil {
			t.Errorf("POST with run_at in the past = %s run_at %v, want queued, no run_at", past.Status, past.RunAt)
		}
		at := time.Now().Add(400 * time.Millisecond).UTC()
		rec := serve(s.app, newRequest(http.MethodPost, "/v1/tasks/batch", "application/json",
			`{"tasks":[{"name":"echo","delay":"200ms"},{"name":"echo"},{"name":"echo","run_at":"`+at.Format(time.RFC3339Nano)+`"}]}`))
		if rec.Code != http.StatusAccepted {
			t.Fatalf("POST /v1/tasks/batch = %d %s, want 202", rec.Code, rec.Body)
		}
		var batch struct{ Tasks []record }
		if err := json.Unmarshal(rec.Body.Bytes(), &batch); err != nil || len(batch.Tasks) != 3 {
			t.Fatalf("batch answer %s: %v", rec.Body, err)
		}
		for i, want := range []string{"scheduled", "queued", "scheduled"} {
			if got := batch.Tasks[i]; got.Status != want || (got.RunAt != nil) != (want == "scheduled") {
				t.Errorf("batch task %d = %s run_at %v, want %s", i, got.Status, got.RunAt, want)
			}
		}
		if got := checkTime(t, "run_at", batch.Tasks[2].RunAt); !got.Equal(at.Truncate(time.Millisecond)) {
			t.Errorf("batch task 2 run_at = %v, want %v, to the millisecond", got, at)
		}

		for _, r := range append([]record{delayed, past}, batch.Tasks...) {
			done := get(t, s.app, "/v1/tasks/"+r.ID+"?wait=10s")
			if done.Status != "succeeded" {
				t.Fatalf("task %s = %s, want succeeded", r.ID, done.Status)
			}
			if r.RunAt != nil && checkTime(t, "started_at", done.StartedAt).Before(checkTime(t, "run_at", done.RunAt)) {
				t.Errorf("task %s started at %s, before its run_at %s", r.ID, *done.StartedAt, *done.RunAt)
			}
		}

		canceled := s.submit(t, `{"name":"count","delay":"200ms"}`)
		if rec := serve(s.app, newRequest(http.MethodDelete, "/v1/tasks/"+canceled.ID, "", "")); rec.Code != http.StatusOK {
			t.Fatalf("DELETE of a scheduled task = %d %s, want 200", rec.Code, rec.Body)
		}
		time.Sleep(400 * time.Millisecond)
		if got := get(t, s.app, "/v1/tasks/"+canceled.ID); got.Status != "canceled" || s.calls.Load() != 0 {
			t.Errorf("canceled scheduled task = %s after its run_at, count ran %d times; want canceled, never run", got.Status, s.calls.Load())
		}
	})
}
