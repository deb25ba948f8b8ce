package tasks

import (
	"context"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/runq/runq/results"
)

// checkBroadcasts answers as missing for the targets of its queues' open
// broadcast tasks that will not answer: a target no longer live (its
// heartbeat lapsed, or it left the workers list), and a target whose run
// is overdue (started more than its timeout plus missingSlack ago: its
// answer was lost). Every pool does it with its maintenance, once a
// second while some broadcast of its queues is open, else at every
// WorkerHeartbeat (see broadcastWatch); the answers are idempotent, so
// pools never conflict. It costs a ZRANGE per queue, plus, only while some
// broadcast is open, a read of the workers list and of the open tasks.
func (p *Pool) checkBroadcasts(ctx context.Context) {
	p.bwatch.checked = time.Now()
	p.bwatch.open.Store(false) // an event from now on sets it again
	var live map[string]bool
	for _, q := range p.cfg.Queues {
		open, err := p.b.OpenBroadcasts(ctx, q, maxOpenChecked)
		if err != nil || len(open) == 0 {
			if err != nil {
				p.bwatch.open.Store(true) // not known: again in a second
			}
			continue
		}
		p.bwatch.open.Store(true)
		if live == nil {
			ws, err := p.b.Workers(ctx, WorkerTimeout)
			if err != nil {
				return
			}
			live = make(map[string]bool, len(ws))
			for _, w := range ws {
				live[w.ID] = true
			}
		}
		dead := map[string]bool{}
		for _, ob := range open {
			if ob.Ended { // canceled or gone: out of every target's inbox
				if _, err := p.b.DropBroadcast(ctx, ob.ID, q, slices.Collect(maps.Keys(ob.Answers))); err != nil {
					return
				}
				continue
			}
			for w, a := range ob.Answers {
				why := missingWhy(a, live[w], ob.Timeout, time.Now())
				if why == "" {
					continue
				}
				if !live[w] {
					dead[w] = true
				}
				if _, _, err := p.b.AnswerBroadcast(ctx, ob.ID, q, w, results.WorkerMissing, why); err != nil {
					return
				}
			}
		}
		for w := range dead {
			p.emptyInbox(ctx, q, w)
		}
	}
}

// emptyInbox answers missing for every task left in the inbox of worker w,
// found dead, in queue: each answer takes the ID out of the inbox, whether
// or not it is written (the task may have ended, or be gone), so that the
// inbox key of a dead worker does not stay.
func (p *Pool) emptyInbox(ctx context.Context, queue, w string) {
	ids, err := p.b.Inbox(ctx, queue, w)
	if err != nil {
		return
	}
	for _, id := range ids {
		if _, _, err := p.b.AnswerBroadcast(ctx, id, queue, w, results.WorkerMissing, lapsed); err != nil {
			return
		}
	}
}

// maxOpenChecked is how many open broadcast tasks of a queue one check
// looks at: the oldest first.
const maxOpenChecked = 100

// missingSlack is how long past its timeout a running target's answer is
// waited for (its worker's clock may be off from Redis's) before it is
// reported missing.
const missingSlack = time.Minute

// lapsed is the error of a target reported missing when it is no longer
// live.
const lapsed = "the worker stopped reporting before it answered (lease lapsed)"

// missingWhy returns why answer a, of a worker that is live or not, is to
// be reported missing at now, or "" when it is not.
func missingWhy(a results.WorkerAnswer, live bool, timeout time.Duration, now time.Time) string {
	switch {
	case a.Status.Final():
		return ""
	case !live:
		return lapsed
	case a.Status == results.WorkerRunning && timeout > 0 && now.After(a.StartedAt.Add(timeout+missingSlack)):
		return "no answer within the timeout"
	}
	return ""
}

// broadcastWatch spares an idle pool the check of open broadcasts each
// second: it checks each second only while some broadcast of its queues
// may be open (one was open at the last check, or the events channel
// announced one since), and else once per WorkerHeartbeat, which finds a
// broadcast whose event was lost. A target's lease lapses after
// WorkerTimeout anyway, so the slower check delays no missing answer
// by more than a heartbeat.
type broadcastWatch struct {
	open    atomic.Bool // set by the last check or by a broadcast event
	checked time.Time   // the last check; only the maintainer touches it
}

// due reports whether the maintenance is to check the open broadcasts.
func (w *broadcastWatch) due() bool {
	return w.open.Load() || time.Since(w.checked) >= WorkerHeartbeat
}
