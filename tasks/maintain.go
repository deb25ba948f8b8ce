package tasks

import (
	"context"
	"time"

	"github.com/runq/runq/broker"
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
	var tidied, reaped time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-p.nudge:
		}
		wait := time.Second
		// Expired leases are reaped once a second; a wake for a due
		// time, which may come every millisecond, only promotes.
		reap := time.Since(reaped) >= time.Second
		if reap {
			reaped = time.Now()
		}
		for _, q := range p.cfg.Queues {
			m, err := p.maintainQueue(ctx, q, reap)
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
				next := max(m.NextIn, time.Millisecond)
				if m.Due > 0 {
					next = max(next, dueBatch) // a dense schedule: promote in batches
				}
				wait = min(wait, next)
			}
			if m.Requeued > 0 || m.Poisoned > 0 || m.Canceled > 0 {
				p.log.Warn("expired leases handed back", "queue", q, "requeued", m.Requeued, "poisoned", m.Poisoned,
					"canceled", m.Canceled)
			}
		}
		if reap && p.bwatch.due() {
			p.checkBroadcasts(ctx)
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

// dueBatch is the least a maintainer sleeps after it promoted tasks, when
// more fall due sooner: tasks due every millisecond then cost it two
// round trips per 5ms, not per task, for at most 5ms of lateness. A lone
// task is promoted at its time.
const dueBatch = 5 * time.Millisecond

// maintainQueue promotes queue's due tasks and, when reap is set, hands
// back its expired leases.
func (p *Pool) maintainQueue(ctx context.Context, queue string, reap bool) (broker.Maintained, error) {
	if reap {
		return p.b.Maintain(ctx, queue, p.cfg.MaxCrashes)
	}
	return p.b.Promote(ctx, queue)
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
