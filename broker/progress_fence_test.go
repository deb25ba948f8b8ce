package broker_test

import (
	"testing"
	"time"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/internal/layout"
)

// Progress is fenced as an outcome is: it is written only while the
// attempt runs under its token and its ID is in the lease's set.
func TestProgressFencedByLease(t *testing.T) {
	tests := []struct {
		name  string
		alter func(t *testing.T, s bundle, c *broker.Claimed)
		want  bool
	}{
		{name: "held", alter: func(*testing.T, bundle, *broker.Claimed) {}, want: true},
		{name: "out of the lease set", alter: func(t *testing.T, s bundle, c *broker.Claimed) {
			// An expired lease not reaped yet whose ID left its set.
			if err := s.be.Client.SRem(s.ctx, s.be.Keys.LeaseTasks(c.Queue, c.Token), layout.IDText(c.ID)).Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "other token", alter: func(_ *testing.T, _ bundle, c *broker.Claimed) { c.Token = "other" }},
		{name: "finished", alter: func(t *testing.T, s bundle, c *broker.Claimed) {
			mustFinish(t, s, broker.Finish{Claimed: c, Outcome: broker.Succeeded, Result: []byte(`1`)})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			each(t, func(t *testing.T, s bundle) {
				id := enqueue(t, s, "q", "x", 0)
				c := claimOne(t, s, "q", time.Minute)
				tt.alter(t, s, &c)
				ok, err := s.b.Progress(s.ctx, &c, 0.25, []byte(`"step"`))
				if err != nil || ok != tt.want {
					t.Fatalf("Progress(%s) = %v, %v, want %v", id, ok, err, tt.want)
				}
				if got := hget(t, s, id, "pg") != ""; got != tt.want {
					t.Errorf("progress of %s written = %v, want %v", id, got, tt.want)
				}
			})
		})
	}
}
