package tasks

import (
	"context"
	"time"
)

// maintain moves due retries into their queues and hands back tasks whose
// lease expired, for every queue, until ctx ends. It runs at least once a
// second, sooner when the next retry falls due or this pool schedules one.
// Every pool does this; the scripts are idempotent, so pools never conflict.
func (p *Pool) maintain(ctx context.Context) {
	const limit = 1000     // retries promoted per call
	const leaseLimit = 100 // expired leases reaped per round, each up to a claim's batch
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-p.nudge:
		}
		wait := time.Second
		for _, q := range p.cfg.Queues {
			moved, next, err := p.b.Promote(ctx, q, limit)
			if err != nil {
				p.log.Warn("promoting due retries failed", "queue", q, "err", err)
			}
			if moved == limit {
				wait = 0
			}
			if !next.IsZero() {
				wait = min(wait, max(time.Until(next), time.Millisecond))
			}
			r, err := p.b.Reap(ctx, q, leaseLimit, p.cfg.MaxCrashes)
			if err != nil {
				p.log.Warn("reaping expired leases failed", "queue", q, "err", err)
			}
			if err == nil && r.Leases == leaseLimit {
				wait = 0 // more expired leases may wait: reap again at once
			}
			if r.Requeued > 0 || r.Poisoned > 0 {
				p.log.Warn("expired leases handed back", "queue", q, "requeued", r.Requeued, "poisoned", r.Poisoned)
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}
