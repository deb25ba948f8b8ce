package tasks

import (
	"context"
	"math/rand/v2"
	"time"
)

// ExponentialBackoff returns a retry delay function: base doubled for each
// retry (base, 2*base, 4*base, ...), capped at max, with "equal jitter": the
// delay is uniform in [d/2, d], so retries of many tasks that failed together
// spread out instead of arriving together.
func ExponentialBackoff(base, max time.Duration) func(n int) time.Duration {
	return func(n int) time.Duration {
		d := max
		if n < 1 {
			n = 1
		}
		if n < 40 {
			if e := base << (n - 1); e > 0 && e < max {
				d = e
			}
		}
		half := d / 2
		return half + rand.N(d-half+1)
	}
}

// retryDelay is a doubling wait for reconnect loops.
type retryDelay struct {
	min, max, cur time.Duration
}

func newRetryDelay(min, max time.Duration) *retryDelay {
	return &retryDelay{min: min, max: max, cur: min}
}

func (r *retryDelay) peek() time.Duration { return r.cur }

func (r *retryDelay) reset() { r.cur = r.min }

// take returns the current delay and doubles it, for a caller that waits
// on a timer of its own.
func (r *retryDelay) take() time.Duration {
	d := r.cur
	r.cur = min(2*r.cur, r.max)
	return d
}

// sleep waits the current delay (or until ctx ends) and doubles it.
func (r *retryDelay) sleep(ctx context.Context) {
	t := time.NewTimer(r.cur)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	r.cur = min(2*r.cur, r.max)
}
