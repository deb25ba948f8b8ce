package tasks

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// cancelTask cancels the handler of each attempt of task id that the pool
// runs, on a cancel asked while it ran (EventCancel, or readCancels): its
// context ends with cause ErrCanceled, and the attempt ends canceled,
// whatever the handler returns. An attempt claimed but not launched is
// canceled as it launches.
func (p *Pool) cancelTask(id uuid.UUID) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, a := range p.running {
		if k.id != id || a.canceled || a.lost || a.returned {
			continue
		}
		p.cancelAttempt(a, now)
		p.log.Info("task canceled while running: handler context canceled", "task_id", a.c.ID,
			"queue", a.c.Queue, "name", a.c.Name, "attempt", a.c.Attempts)
	}
}

// cancelAttempt marks a canceled and, once launched, cancels its context
// and gives its handler a quarter of the visibility timeout to return
// before the keeper abandons it (abandonOverdue), as it abandons a handler
// that ignores its timeout. p.mu must be held.
func (p *Pool) cancelAttempt(a *attempt, now time.Time) {
	a.canceled = true
	if a.cancel == nil {
		return
	}
	a.cancel(ErrCanceled)
	if late := now.Add(p.cfg.VisibilityTimeout / 4); late.Before(a.overdue) {
		a.overdue = late
	}
}

// readCancels reads, for each queue in which the pool runs attempts, the
// cancels asked since its last read, and cancels the attempts they name:
// a pool whose subscription to the events channel was down when a cancel
// was announced learns of it within v/8 (the keeper's tick). Only the
// keeper calls it.
func (p *Pool) readCancels(ctx context.Context, v time.Duration) {
	queues := make(map[string]bool)
	p.mu.Lock()
	for _, a := range p.running {
		if !a.lost && !a.returned && !a.canceled {
			queues[a.c.Queue] = true
		}
	}
	p.mu.Unlock()
	if p.cancelSince == nil {
		p.cancelSince = make(map[string]time.Time)
	}
	for q := range queues {
		rctx, cancel := context.WithTimeout(ctx, v/8)
		ids, since, err := p.b.CancelRequests(rctx, q, p.cancelSince[q])
		cancel()
		if err != nil {
			if !p.health.failed("read cancels", err) {
				p.log.Warn("reading cancels failed", "queue", q, "err", err)
			}
			continue
		}
		p.cancelSince[q] = since
		for _, id := range ids {
			p.cancelTask(id)
		}
	}
}
