package tasks

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/runq/runq/broker"
)

// The claim loops skip a queue that is closed to claims: paused in the
// pool's copy of its settings, or blocked because a take found it paused
// or at its max_running since the last change the pool heard of. Redis
// decides (take.lua refuses such takes, whatever the copy says); the copy
// only spares the pool takes that would be refused, and its blocking
// waits on a queue it may not claim from, which return at once when the
// queue holds tasks.
//
// A closed queue is waited on, not polled: every change of the settings,
// every "slot" event (a queue that ran its max_running tasks has one
// free) and every resubscription to the events channel closes the
// channel that settingsCopy.get returns. A block also lapses after
// gateRecheck, so that a take tries again should an event be missed;
// the cost of a worker whose queue stays at its cap is then one take a
// second.
const gateRecheck = time.Second

// gated reports whether err is a take that a queue's settings refused.
func gated(err error) bool {
	return errors.Is(err, broker.ErrPaused) || errors.Is(err, broker.ErrAtCap)
}

// blocks are the pool's queues that a take found closed, each until the
// channel of settingsCopy current before that take closes, or its time
// passes.
type blocks struct {
	mu sync.Mutex
	m  map[string]block
}

type block struct {
	changed <-chan struct{}
	until   time.Time
}

// add blocks queue until changed closes, or gateRecheck passes.
func (b *blocks) add(queue string, changed <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = make(map[string]block)
	}
	b.m[queue] = block{changed: changed, until: time.Now().Add(gateRecheck)}
}

// blocked reports whether queue is blocked now, and until when at the
// latest.
func (b *blocks) blocked(queue string) (bool, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bl, ok := b.m[queue]
	if !ok {
		return false, time.Time{}
	}
	select {
	case <-bl.changed:
	default:
		if time.Now().Before(bl.until) {
			return true, bl.until
		}
	}
	delete(b.m, queue)
	return false, time.Time{}
}

// openQueues returns the queues of the pool that a claim may take from
// now, in order; and, for a wait when there are none, the channel closed
// at the next change and the time the earliest block lapses (zero when
// only pauses close them).
func (p *Pool) openQueues() (open []string, changed <-chan struct{}, lapse time.Time) {
	for _, q := range p.cfg.Queues {
		s, ch := p.settings.get(q)
		changed = ch
		if s.Paused {
			continue
		}
		if b, until := p.blocks.blocked(q); b {
			if lapse.IsZero() || until.Before(lapse) {
				lapse = until
			}
			continue
		}
		open = append(open, q)
	}
	return open, changed, lapse
}

// waitOpen waits, when every queue of the pool is closed to claims, until
// one may have opened (or ctx ends), and reports whether it waited.
func (p *Pool) waitOpen(ctx context.Context) bool {
	open, changed, lapse := p.openQueues()
	if len(open) > 0 {
		return false
	}
	var recheck <-chan time.Time
	if !lapse.IsZero() {
		t := time.NewTimer(time.Until(lapse))
		defer t.Stop()
		recheck = t.C
	}
	select {
	case <-changed:
	case <-recheck:
	case <-ctx.Done():
	}
	return true
}

// isOpen reports whether a claim may take from queue now.
func (p *Pool) isOpen(queue string) bool {
	if s, _ := p.settings.get(queue); s.Paused {
		return false
	}
	b, _ := p.blocks.blocked(queue)
	return !b
}
