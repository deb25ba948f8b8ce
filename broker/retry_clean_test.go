package broker_test

import (
	"testing"
	"time"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/internal/layout"
	"github.com/runq/runq/results"
)

// A failed task whose last run reported progress and was asked to cancel
// (too late: it failed first) is queued again, by Retry or RetryQueue,
// without them: its next run starts clean, and a cancel of it is recorded
// in the cancels zset again.
func TestRetryDropsCancelAndProgress(t *testing.T) {
	tests := []struct {
		name  string
		retry func(s bundle, q string, c broker.Claimed) error
	}{
		{name: "Retry", retry: func(s bundle, _ string, c broker.Claimed) error {
			_, err := s.b.Retry(s.ctx, c.ID)
			return err
		}},
		{name: "RetryQueue", retry: func(s bundle, q string, _ broker.Claimed) error {
			_, err := s.b.RetryQueue(s.ctx, q, results.StatusFailed)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			each(t, func(t *testing.T, s bundle) {
				const q = "q"
				id := enqueue(t, s, q, "x", 0)
				c := claimOne(t, s, q, time.Minute)
				if ok, err := s.b.Progress(s.ctx, &c, 0.5, nil); !ok || err != nil {
					t.Fatalf("Progress = %v, %v, want written", ok, err)
				}
				if st, err := s.b.Cancel(s.ctx, id); err != nil || st != "running" {
					t.Fatalf("Cancel(%s) = %s, %v, want running", id, st, err)
				}
				mustFinish(t, s, broker.Finish{Claimed: &c, Outcome: broker.Failed, Error: "boom"})
				if err := tt.retry(s, q, c); err != nil {
					t.Fatal(err)
				}
				for _, f := range []string{"cx", "pg"} {
					if v := hget(t, s, id, f); v != "" {
						t.Errorf("HGET %s of %s after %s = %q, want none", f, id, tt.name, v)
					}
				}
				claimOne(t, s, q, time.Minute)
				if err := s.be.Client.ZRem(s.ctx, s.be.Keys.Cancels(q), layout.IDText(id)).Err(); err != nil {
					t.Fatal(err)
				}
				if st, err := s.b.Cancel(s.ctx, id); err != nil || st != "running" {
					t.Fatalf("Cancel(%s) again = %s, %v, want running", id, st, err)
				}
				if !zmember(t, s, s.be.Keys.Cancels(q), id) {
					t.Errorf("%s is not in the cancels zset after the second cancel", id)
				}
			})
		})
	}
}
