package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/runq/runq/broker"
)

// cancel sends DELETE /v1/tasks/{id} to s.app.
func (s *bundle) cancel(id string) *httptest.ResponseRecorder {
	return serve(s.app, newRequest(http.MethodDelete, "/v1/tasks/"+id, "", ""))
}

func TestCancelQueuedTaskNeverRuns(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		// No pool consumes "parked" yet; the name is known from setup.
		sub := s.submit(t, `{"name":"count","queue":"parked"}`)
		rec := s.cancel(sub.ID)
		if rec.Code != http.StatusOK {
			t.Fatalf("DELETE queued task = %d %s, want 200", rec.Code, rec.Body)
		}
		canceled := decodeRecord(t, rec)
		if canceled.ID != sub.ID || canceled.Status != "canceled" || canceled.Attempts != 0 || canceled.StartedAt != nil {
			t.Errorf("DELETE queued task = %+v, want its record with status canceled, attempts 0, no started_at", canceled)
		}
		checkTime(t, "finished_at", canceled.FinishedAt)
		if again := s.cancel(sub.ID); again.Code != http.StatusOK || decodeRecord(t, again).Status != "canceled" {
			t.Errorf("DELETE of a canceled task = %d %s, want 200 and the canceled record (a resent DELETE is harmless)", again.Code, again.Body)
		}
		if got := get(t, s.app, "/v1/tasks/"+sub.ID+"?wait=5s"); got.Status != "canceled" {
			t.Errorf("GET after DELETE = status %q, want canceled", got.Status)
		}

		// A worker that consumes the queue afterwards, one task at a time,
		// drops the canceled task before it reaches the sentinel behind it.
		s.startPool(t, "parked", 1)
		sentinel := s.submit(t, `{"name":"echo","queue":"parked","payload":"after"}`)
		if got := get(t, s.app, "/v1/tasks/"+sentinel.ID+"?wait=10s"); got.Status != "succeeded" {
			t.Fatalf("sentinel behind the canceled task = status %q, want succeeded", got.Status)
		}
		if n := s.calls.Load(); n != 0 {
			t.Errorf("count handler ran %d times, want 0: a canceled task was run", n)
		}
		got := get(t, s.app, "/v1/tasks/"+sub.ID)
		if got.Status != "canceled" || got.Attempts != 0 || got.StartedAt != nil {
			t.Errorf("canceled task after a worker passed = %+v, want canceled, attempts 0, no started_at", got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		stats, err := s.broker.Stats(ctx, "parked")
		if err != nil || stats != (broker.QueueStats{}) {
			t.Errorf("Stats(%q) = %+v, %v; want an empty queue, the tombstone dropped", "parked", stats, err)
		}
	})
}

func TestCancelRunningTask(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		g := s.gate("running")
		sub := s.submit(t, `{"name":"block","payload":{"gate":"running"}}`)
		waitClosed(t, g.started, "the block task to start")
		rec := s.cancel(sub.ID)
		var asked struct {
			Status            string  `json:"status"`
			CancelRequestedAt *string `json:"cancel_requested_at"`
		}
		err := json.Unmarshal(rec.Body.Bytes(), &asked)
		// 200 canceled when the worker was quicker than the read of the
		// record that follows the cancel.
		if err != nil || asked.CancelRequestedAt == nil || !(rec.Code == http.StatusAccepted && asked.Status == "running" ||
			rec.Code == http.StatusOK && asked.Status == "canceled") {
			t.Errorf("DELETE running task = %d %s, %v; want 202 running with cancel_requested_at", rec.Code, rec.Body, err)
		}
		// The block handler returns when its context ends.
		got := get(t, s.app, "/v1/tasks/"+sub.ID+"?wait=10s")
		if got.Status != "canceled" || got.Attempts != 1 || got.FinishedAt == nil {
			t.Errorf("GET ?wait=10s after DELETE of a running task = %+v, want canceled after 1 attempt", got)
		}
		if rec := s.cancel(sub.ID); rec.Code != http.StatusOK {
			t.Errorf("DELETE again = %d %s, want 200 with the canceled record", rec.Code, rec.Body)
		}
	})
}

func TestCancelFinishedTaskConflicts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		body       string
		wantStatus string
	}{
		{"succeeded", `{"name":"echo","payload":{"x":1}}`, "succeeded"},
		{"failed", `{"name":"fail","max_retries":0}`, "failed"},
	}
	eachBackend(t, func(t *testing.T, s *bundle) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				sub := s.submit(t, tt.body)
				before := get(t, s.app, "/v1/tasks/"+sub.ID+"?wait=10s")
				if before.Status != tt.wantStatus {
					t.Fatalf("GET ?wait=10s = status %q, want %s", before.Status, tt.wantStatus)
				}
				msg := errorOf(t, s.cancel(sub.ID), http.StatusConflict)
				if !strings.Contains(msg, "finished") {
					t.Errorf("DELETE %s task: error %q, want it to say the task finished", tt.wantStatus, msg)
				}
				after := get(t, s.app, "/v1/tasks/"+sub.ID)
				if after.Status != before.Status || string(after.Result) != string(before.Result) ||
					!checkTime(t, "finished_at", after.FinishedAt).Equal(checkTime(t, "finished_at", before.FinishedAt)) {
					t.Errorf("record after a refused DELETE = %+v, want unchanged %+v", after, before)
				}
			})
		}
	})
}
