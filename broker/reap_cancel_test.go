package broker_test

import (
	"testing"
	"time"

	"github.com/runq/runq/broker"
)

// A started task whose worker was lost after its cancel was asked is
// canceled by the reaper, not handed back, and Maintain counts it.
func TestReapCountsCanceled(t *testing.T) {
	tests := []struct {
		name   string
		cancel bool
		want   broker.Maintained
	}{
		{name: "cancel asked", cancel: true, want: broker.Maintained{Leases: 1, Canceled: 1}},
		{name: "no cancel", want: broker.Maintained{Leases: 1, Requeued: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			each(t, func(t *testing.T, s bundle) {
				id := enqueue(t, s, "q", "x", 0)
				claimOne(t, s, "q", 300*time.Millisecond)
				if tt.cancel {
					if st, err := s.b.Cancel(s.ctx, id); err != nil || st != "running" {
						t.Fatalf("Cancel(%s) = %s, %v, want running", id, st, err)
					}
				}
				var got broker.Maintained
				for deadline := time.Now().Add(5 * time.Second); got.Leases == 0; time.Sleep(10 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("the lease was not reaped in 5s")
					}
					m, err := s.b.Maintain(s.ctx, "q", 3)
					if err != nil {
						t.Fatalf("Maintain: %v", err)
					}
					got.Leases += m.Leases
					got.Requeued += m.Requeued
					got.Poisoned += m.Poisoned
					got.Canceled += m.Canceled
				}
				if got != tt.want {
					t.Errorf("Maintain = %+v, want %+v", got, tt.want)
				}
				want := map[bool]string{true: "canceled", false: "queued"}[tt.cancel]
				if st := status(t, s, id); st != want {
					t.Errorf("status(%s) = %q, want %q", id, st, want)
				}
			})
		})
	}
}
