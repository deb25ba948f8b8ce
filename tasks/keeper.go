package tasks

import (
	"context"
	"fmt"
	"time"

	"github.com/runq/runq/broker"
)

// keepLeases renews the leases of running attempts until ctx ends. With V
// the visibility timeout it wakes every V/8, renews a lease last confirmed
// V/4 ago or more, and cancels the handler of a lease it could not confirm
// for V/2 (a renewal refused, or Redis unreachable): the handler sees
// ErrLeaseLost well before the lease can expire and the task pass to
// another worker. Confirmation times are taken when the request is sent, so
// they never run ahead of the deadline Redis set.
func (p *Pool) keepLeases(ctx context.Context) {
	v := p.cfg.VisibilityTimeout
	t := time.NewTicker(v / 8)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.renewDue(ctx, v)
		p.cancelUnconfirmed(v)
		p.readCancels(ctx, v)
		p.abandonOverdue()
	}
}

// abandonOverdue gives up on handlers that ignore their timeout: a quarter
// of the visibility timeout after the deadline, the attempt is recorded as
// failed (retried if it may be; canceled when its cancel was asked, a
// quarter of the visibility timeout after the ask) and its lease released, so the task moves on
// instead of being renewed forever. The goroutine cannot be stopped: it is
// counted as a zombie and keeps its concurrency slot until it returns, so a
// worker whose slots fill with zombies stops claiming rather than pile up
// goroutines.
func (p *Pool) abandonOverdue() {
	var overdue []*attempt
	p.mu.Lock()
	for _, a := range p.running {
		if !a.lost && !a.returned && !a.overdue.IsZero() && time.Now().After(a.overdue) {
			a.lost, a.abandoned = true, true
			overdue = append(overdue, a)
		}
	}
	p.mu.Unlock()
	for _, a := range overdue {
		p.stats.abandoned.Add(1)
		timeout := p.timeout(a.c)
		why := "handler ignored its timeout and is abandoned: a goroutine leaks and holds a slot until it returns"
		if a.canceled {
			why = "handler ignored the cancel of its task and is abandoned: a goroutine leaks and holds a slot until it returns"
		}
		p.taskLog(a.c).Error(why, "timeout", timeout, "zombies", p.Stats().Zombies)
		f := broker.Finish{Claimed: a.c}
		p.failure(&f, fmt.Errorf("timed out after %s; the handler ignored cancellation and was abandoned", timeout))
		if a.canceled {
			f = broker.Finish{Claimed: a.c, Outcome: broker.Canceled}
		}
		p.observeEnd(a.c, f.Outcome, a.started)
		go func() {
			p.record(f) // may retry for a while; renewDue keeps the lease meanwhile
			p.mu.Lock()
			a.recorded = true
			p.mu.Unlock()
		}()
	}
}

func (p *Pool) renewDue(ctx context.Context, v time.Duration) {
	due := make(map[string][]string) // queue -> lease tokens, each once
	seen := make(map[string]bool)
	p.mu.Lock()
	for _, a := range p.running {
		held := !a.lost || a.abandoned && !a.recorded // an abandoned attempt's outcome is still being written
		if held && time.Since(a.confirmed) >= v/4 && !seen[a.c.Token] {
			seen[a.c.Token] = true
			due[a.c.Queue] = append(due[a.c.Queue], a.c.Token)
		}
	}
	p.mu.Unlock()
	for queue, tokens := range due {
		sent := time.Now()
		rctx, cancel := context.WithTimeout(ctx, v/8)
		held, err := p.b.Renew(rctx, queue, v, tokens)
		cancel()
		if err != nil {
			if !p.health.failed("renew leases", err) {
				p.log.Warn("renewing leases failed", "queue", queue, "leases", len(tokens), "err", err)
			}
			continue
		}
		// Attempts claimed together share a lease: one answer covers all.
		heldBy := make(map[string]bool, len(tokens))
		for i, tok := range tokens {
			heldBy[tok] = held[i]
		}
		p.mu.Lock()
		for _, a := range p.running {
			h, asked := heldBy[a.c.Token]
			switch {
			case !asked:
			case h:
				a.confirmed = sent
			case !a.lost:
				p.loseLease(a, "lease taken over")
			}
		}
		p.mu.Unlock()
	}
}

func (p *Pool) cancelUnconfirmed(v time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.running {
		if !a.lost && time.Since(a.confirmed) >= v/2 {
			p.loseLease(a, "lease not confirmed in time")
		}
	}
}

// loseLease cancels a's handler; p.mu must be held.
func (p *Pool) loseLease(a *attempt, why string) {
	a.lost = true
	if a.cancel != nil {
		a.cancel(ErrLeaseLost)
	}
	p.log.Warn("lease lost: handler cancelled", "task_id", a.c.ID, "queue", a.c.Queue,
		"name", a.c.Name, "attempt", a.c.Attempts, "why", why)
}
