package broker_test

import (
	"testing"

	"github.com/runq/runq/results"
)

// A broadcast task is canceled outright, queued or running: its runs hold
// no lease, so no worker would act on a cancel request. An answer of a
// worker that ran it is ignored after; a worker that had not started it
// never does.
func TestCancelBroadcast(t *testing.T) {
	tests := []struct {
		name    string
		started bool // w1 runs it when the cancel comes
	}{
		{name: "queued"},
		{name: "running", started: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			each(t, func(t *testing.T, s bundle) {
				id := enqueueBroadcast(t, s, "q", "reload", "w1", "w2")
				if tt.started {
					if bt := startBroadcast(t, s, "q", "w1"); bt == nil || bt.ID != id {
						t.Fatalf("StartBroadcast(w1) = %+v, want task %s", bt, id)
					}
					if got := status(t, s, id); got != "running" {
						t.Fatalf("status(%s) = %q, want running", id, got)
					}
				}
				st, err := s.b.Cancel(s.ctx, id)
				if err != nil || st != results.StatusCanceled {
					t.Fatalf("Cancel(%s) = %s, %v; want canceled", id, st, err)
				}
				if got := status(t, s, id); got != "canceled" {
					t.Fatalf("status(%s) = %q, want canceled", id, got)
				}
				if !zmember(t, s, s.be.Keys.Ended("q", "canceled"), id) {
					t.Errorf("%s is not in the canceled zset", id)
				}
				if zmember(t, s, s.be.Keys.Cancels("q"), id) {
					t.Errorf("%s is in the cancels zset: a request no worker reads", id)
				}
				if tt.started {
					written, ended, err := s.b.AnswerBroadcast(s.ctx, id, "q", "w1", results.WorkerSucceeded, `1`)
					if err != nil || written || ended {
						t.Errorf("AnswerBroadcast(w1) = %v, %v, %v; want ignored", written, ended, err)
					}
				}
				if bt := startBroadcast(t, s, "q", "w2"); bt != nil {
					t.Errorf("StartBroadcast(w2) = %+v, want nil", bt)
				}
				if got := status(t, s, id); got != "canceled" {
					t.Errorf("status(%s) = %q at the end, want canceled", id, got)
				}
			})
		})
	}
}
