package tasks

import (
	"context"
	"runtime"
	"time"

	"github.com/runq/runq/broker"
)

// fetchAhead is fetch for a pool of one queue. It keeps one batch taken
// ahead and starts it in the same round trip that takes the next
// (broker.StartTake), so a busy loop claims in one round trip per batch
// instead of two: fewer wake-ups for Redis and for the loop. A batch's
// slots are held from its take. When the queue runs dry, the loop waits
// on Redis, which tells it the ID at the head of the queue when a task
// arrives; the take that follows (after PoolConfig.BatchWait, when set)
// starts that task too, so a lone task is claimed in one round trip. A
// take that drained the queue is not followed by another that would find
// it empty: the loop waits instead.
// When ctx ends, a batch taken ahead is started and runs like any other:
// it was claimed before the stop. So is one taken before the queue was
// paused, in the next round trip; the take that goes with its start gives
// nothing. A queue closed to claims (paused, or at its max_running; see
// gate.go) is waited on, not polled. It is the pool's only claim loop
// (fetchAll), so unlike fetch it never wakes parked loops.
func (p *Pool) fetchAhead(ctx, work context.Context) {
	queue := p.cfg.Queues[0]
	backoff := newRetryDelay(50*time.Millisecond, time.Second) // back within a second of Redis
	var ahead *broker.Taken                                    // taken, not started: len(ahead.IDs) slots held
	var aheadSent time.Time
	drained := false // the take of ahead found fewer tasks than it asked for
	head := ""       // the ID the last wait saw at the head of the queue
	for {
		if ahead == nil {
			if ctx.Err() != nil {
				return
			}
			if p.waitOpen(ctx) {
				continue
			}
			_, changed := p.settings.get(queue) // before the take: a change after it unblocks
			var err error
			ahead, aheadSent, drained, err = p.takeFirst(ctx, work, queue, head)
			head = ""
			switch {
			case gated(err):
				p.blocks.add(queue, changed)
			case err != nil:
				p.retryAfter(ctx, "claim", err, backoff)
			case ahead == nil && drained:
				head = p.waitArrival(ctx, backoff).Head
			default:
				backoff.reset()
			}
			continue
		}
		m := 0
		if ctx.Err() == nil && !drained && p.isOpen(queue) {
			m = p.nextBatch()
		}
		_, changed := p.settings.get(queue)
		sent := time.Now()
		claimed, next, err := p.startTake(ctx, ahead, aheadSent, m)
		if gated(err) { // ahead started; the take with it gave nothing
			p.blocks.add(queue, changed)
			p.releaseSlots(m)
			p.startedOK(sent, claimed)
			p.launchStarted(work, ahead, aheadSent, claimed)
			ahead = nil
			continue
		}
		if err != nil {
			// Both calls may have been applied: the taken tasks wait for
			// their lease to expire, and reaping hands them back.
			p.releaseSlots(len(ahead.IDs) + m)
			ahead = nil
			p.retryAfter(ctx, "claim", err, backoff)
			continue
		}
		p.startedOK(sent, claimed)
		backoff.reset()
		p.launchStarted(work, ahead, aheadSent, claimed)
		ahead = nil
		taken := 0
		if next != nil {
			taken = len(next.IDs)
		}
		p.releaseSlots(m - taken)
		switch {
		case drained || (m > 0 && taken == 0): // the queue was empty a moment ago
			head = p.waitArrival(ctx, backoff).Head
		case taken > 0:
			ahead, aheadSent, drained = next, sent, taken < m
		} // else no slot was free: takeFirst waits for one
	}
}

// nextBatch takes the slots free now for the batch to take next, and
// returns how many it took (0 when none is free).
//
// It first lets the handlers just launched run: those that return at once
// free their slots for this take, which then claims about half the pool
// instead of a third (the batch running, the one taken ahead and this one
// would split it). Measured with runq bench --only drain (two alternating
// runs, concurrency 50 storing a result): round trips per task 0.121 ->
// 0.100, Redis CPU 14.5 -> 13.7 µs per task, tasks/s within noise; latency
// unchanged. A handler that does not return at once costs the loop one
// trip through the scheduler; when every CPU is busy, that is a wait
// behind the running handlers (no slower overall in a test of CPU-bound
// handlers at concurrency 50 on two CPUs).
func (p *Pool) nextBatch() int {
	runtime.Gosched()
	return p.acquireFree(maxBatch)
}

// launchStarted runs the tasks of t that start.lua started, tracked from
// t's take at sent, and frees the slots of those it dropped.
func (p *Pool) launchStarted(work context.Context, t *broker.Taken, sent time.Time, claimed []broker.Claimed) {
	p.releaseSlots(len(t.IDs) - len(claimed))
	p.launchClaimed(work, sent, claimed)
}

// launchClaimed runs claimed, tracked from their claim sent at sent; their
// slots are held.
func (p *Pool) launchClaimed(work context.Context, sent time.Time, claimed []broker.Claimed) {
	batch := make([]*broker.Claimed, len(claimed))
	for i := range claimed {
		batch[i] = &claimed[i]
		p.track(batch[i], sent)
	}
	p.launchAll(work, batch)
}

// waitIdle waits for a task to arrive, as fetch does when a claim finds
// the queues empty, and returns what the wait saw (nothing when this loop
// parked, or the wait failed or timed out) and whether it timed out: then
// the queues were empty throughout, and no claim need follow.
func (p *Pool) waitIdle(ctx context.Context, backoff *retryDelay) (ready broker.Ready, timedOut bool) {
	began := time.Now()
	var woke, gate bool
	blocked, err := p.idle.wait(ctx, func(ctx context.Context) error {
		open, _, _ := p.openQueues()
		if len(open) == 0 { // no queue to wait on: wait for one to open
			gate = p.waitOpen(ctx)
			woke = true
			return nil
		}
		var err error
		ready, woke, err = p.b.WaitReady(ctx, open, time.Second)
		return err
	})
	switch {
	case gate:
	case err == nil && blocked:
		// This loop's BLMOVE, a write that a Redis refusing writes
		// refuses, succeeded. A loop that parked learned nothing.
		p.health.ok(began)
	case err != nil && ctx.Err() == nil:
		p.retryAfter(ctx, "waiting for tasks", err, backoff)
	}
	return ready, blocked && err == nil && !woke
}

// waitTask waits, one bounded wait after another, until a task arrives,
// a wait fails (the claim that follows tells whether Redis is back) or ctx
// ends, and returns what the last wait saw. An idle pool thus sends one
// command a second, not a wait and a take.
func (p *Pool) waitTask(ctx context.Context, backoff *retryDelay) broker.Ready {
	for {
		ready, timedOut := p.waitIdle(ctx, backoff)
		if !timedOut || ctx.Err() != nil {
			return ready
		}
	}
}

// takeFirst acquires slots and takes a batch for them, starting the task
// at the head of the queue in the same call when head names it (the start
// of a run of batches taken ahead). It launches what it started, and
// returns the rest of the batch, not started (nil when none), and whether
// the take found fewer tasks than it asked for. It holds slots only for
// the batch it returns.
func (p *Pool) takeFirst(ctx, work context.Context, queue, head string) (ahead *broker.Taken, sent time.Time, drained bool, err error) {
	n := p.acquire(ctx)
	if n == 0 {
		return nil, time.Time{}, false, nil
	}
	sent = time.Now()
	cctx, cancel := p.claimContext(ctx)
	claimed, t, err := p.b.Take(cctx, queue, n, p.cfg.VisibilityTimeout, head)
	cancel()
	rest := 0
	if t != nil {
		rest = len(t.IDs)
	}
	p.releaseSlots(n - len(claimed) - rest)
	p.launchClaimed(work, sent, claimed)
	if err != nil {
		return nil, time.Time{}, false, err
	}
	// A take proves nothing of Redis taking writes, even one that took
	// tasks (see redisHealth.ok): the start that follows tells.
	return t, sent, len(claimed)+rest < n, nil
}

// startedOK tells p.health of a start sent at sent that started claimed:
// a start that started a task wrote its hash first (see redisHealth.ok).
func (p *Pool) startedOK(sent time.Time, claimed []broker.Claimed) {
	if len(claimed) > 0 {
		p.health.ok(sent)
	}
}

// startTake starts ahead, taken at aheadSent, and takes up to m more, in
// one round trip. StartTake resends a failed round trip itself;
// all its tries end within half the visibility timeout of the take, as a
// claim's do (claimContext), so a task starts with at least half its lease
// left for the keeper to renew.
func (p *Pool) startTake(ctx context.Context, ahead *broker.Taken, aheadSent time.Time, m int) ([]broker.Claimed, *broker.Taken, error) {
	cctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), aheadSent.Add(p.cfg.VisibilityTimeout/2))
	defer cancel()
	return p.b.StartTake(cctx, ahead, m, p.cfg.VisibilityTimeout)
}
