package tasks

import (
	"context"
	"time"
)

// maintain moves due tasks (held back, or retries) into their queues and
// hands back tasks whose lease expired, for every queue, until ctx ends.
// It runs at least once a second, and sleeps until the next scheduled task
// falls due when that is sooner; a nudge wakes it early: when this pool
// schedules a retry, or when any process schedules a task earlier than
// every other of a queue (the "due" event, see listen), so that it reads
// the new time. Every pool does this; the scripts are idempotent, so pools
// never conflict.
func (p *Pool) maintain(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var tidied time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-p.nudge:
		}
		wait := time.Second
		for _, q := range p.cfg.Queues {
			m, err := p.b.Maintain(ctx, q, p.cfg.MaxCrashes)
			// A maintenance that writes nothing succeeds on a Redis that
			// refuses writes, so it never tells that Redis is back.
			switch {
			case err == nil:
			case ctx.Err() != nil || p.clientClosed(err):
				return
			case !p.health.failed("maintain", err):
				p.log.Warn("maintenance failed", "queue", q, "err", err)
			}
			if m.More {
				wait = 0 // more may wait: go again at once
			}
			if !m.NextDue.IsZero() {
				// On Redis's clock: this machine's may be off from it.
				wait = min(wait, max(m.NextIn, time.Millisecond))
			}
			if m.Requeued > 0 || m.Poisoned > 0 {
				p.log.Warn("expired leases handed back", "queue", q, "requeued", m.Requeued, "poisoned", m.Poisoned)
			}
		}
		if time.Since(tidied) >= tidyEvery {
			if p.tidy(ctx) {
				tidied = time.Now().Add(time.Second - tidyEvery) // more was left: again in a second
			} else {
				tidied = time.Now()
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

// tidyEvery is how often a pool tidies its queues' listing structures (see
// broker.Tidy): what it drops only costs memory meanwhile.
const tidyEvery = 30 * time.Second

// tidy tidies every queue of the pool, logging what fails, and reports
// whether some queue had more left than one Tidy drops.
func (p *Pool) tidy(ctx context.Context) (more bool) {
	for _, q := range p.cfg.Queues {
		td, err := p.b.Tidy(ctx, q)
		if err != nil && ctx.Err() == nil && !p.health.failed("tidy", err) {
			p.log.Warn("tidying the task log failed", "queue", q, "err", err)
		}
		more = more || td.More
	}
	return more
}
