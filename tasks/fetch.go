package tasks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/runq/runq/broker"
)

// maxBatch caps how many tasks one claim takes.
const maxBatch = 64

// fetchers is how many claim loops a pool of several queues runs. A claim
// there is two round trips (take, then start), or one for a lone task
// that a wait saw at the head of its queue; with one loop, handlers that
// return quickly wait for them, and Redis idles while they travel. Two
// loops keep a claim in flight while the other's tasks start. Measured
// with runq bench --only drain (50,000 tasks, three alternating runs,
// medians, tasks/s): concurrency 10 no-op 17.2k → 21.2k, storing a result
// 16.3k → 18.8k; concurrency 50 no-op 36.3k → 44.3k, storing a result
// 41.8k → 41.6k; concurrency 100, where Redis's CPU is the limit, 50.8k →
// 48.4k and 48.8k → 44.6k (within the machine's ±10%, but the batches are
// smaller: 0.09 round trips per task instead of 0.075). Latency at 1,000
// and 5,000 tasks/s is unchanged.
//
// A pool of one queue runs one loop (fetchAhead): its claim is one round
// trip, and a second loop only halves the batches, since each loop's
// batch taken ahead holds slots. Measured on a pool draining 100,000
// tasks at concurrency 50, storing a result: 48.0k → 51.1k tasks/s, round
// trips per task 0.159 → 0.121, Redis CPU 17.5 → 16.6 µs per task.
const fetchers = 2

// fetchAll runs the claim loops until ctx ends and all have returned. A
// pool of one queue keeps a batch taken ahead (fetchAhead); a pool of
// several takes from them in its claim order, every claim (fetch).
func (p *Pool) fetchAll(ctx, work context.Context) {
	loop, loops := p.fetch, fetchers
	if len(p.cfg.Queues) == 1 {
		loop, loops = p.fetchAhead, 1
	}
	var wg sync.WaitGroup
	for range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(ctx, work)
		}()
	}
	wg.Wait()
}

// fetch claims tasks while there are free slots, until ctx ends.
func (p *Pool) fetch(ctx, work context.Context) {
	backoff := newRetryDelay(50*time.Millisecond, time.Second) // back within a second of Redis
	var ready broker.Ready                                     // what the last wait saw
	var draws drawBuf
	for ctx.Err() == nil {
		if p.waitOpen(ctx) { // every queue closed to claims: waited for a change
			continue
		}
		n := p.acquire(ctx)
		if n == 0 {
			return
		}
		began := time.Now()
		claimed, started, err := p.claim(ctx, n, ready, p.order.next(&draws))
		ready = broker.Ready{}
		p.releaseSlots(n - len(claimed))
		p.launchAll(work, claimed)
		switch {
		case err != nil:
			p.retryAfter(ctx, "claim", err, backoff)
		case len(claimed) > 0:
			if started {
				p.health.ok(began)
			}
			backoff.reset()
			if len(claimed) == n {
				p.idle.wake() // there may be more: any parked loop claims too
			}
		default:
			ready = p.waitArrival(ctx, backoff)
		}
	}
}

// waitArrival waits for a task as waitTask does. When one arrived within
// PoolConfig.BatchWait of the wait's start, so that tasks come about that
// close together, it then holds back the claim for BatchWait, or until ctx
// ends, so that the claim takes the tasks that arrive meanwhile too. A
// task that ends a longer quiet is claimed at once: a wait would gather
// nothing and cost the pool a wake-up (at 100 tasks/s, with a BatchWait of
// 5 ms, 790 µs of worker CPU per task against 560; cmd/runq/BENCHMARKS.md).
func (p *Pool) waitArrival(ctx context.Context, backoff *retryDelay) broker.Ready {
	began := time.Now()
	ready := p.waitTask(ctx, backoff)
	if ready.Queue == "" || time.Since(began) > p.cfg.BatchWait {
		return ready
	}
	t := time.NewTimer(p.cfg.BatchWait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return ready
}

// idleGate lets one claim loop at a time block on Redis when the queues are
// empty; the others park until it wakes them. So an idle pool holds one
// blocking connection per queue, not one per loop, and a lone task wakes
// one loop instead of sending every loop to claim it.
type idleGate struct {
	mu      sync.Mutex
	waiting bool          // a loop is blocked on Redis
	parked  chan struct{} // closed to wake the parked loops; nil while none
}

// wait blocks on Redis through block if no other loop does, else parks
// until a loop wakes the parked ones (or ctx ends). It reports whether
// this loop blocked, and block's error. The loop that blocked does not
// wake the others: it claims first, and wakes them only if it finds more
// than it can take.
func (g *idleGate) wait(ctx context.Context, block func(context.Context) error) (blocked bool, err error) {
	g.mu.Lock()
	if g.waiting {
		if g.parked == nil {
			g.parked = make(chan struct{})
		}
		parked := g.parked
		g.mu.Unlock()
		select {
		case <-parked:
		case <-ctx.Done():
		}
		return false, nil
	}
	g.waiting = true
	g.mu.Unlock()
	err = block(ctx)
	g.mu.Lock()
	g.waiting = false
	g.mu.Unlock()
	if err != nil {
		g.wake() // let another loop try; this one backs off
	}
	return true, err
}

// wake releases the parked loops, if any.
func (g *idleGate) wake() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.parked != nil {
		close(g.parked)
		g.parked = nil
	}
}

// acquire blocks for one free slot, then takes as many more as are free, up
// to maxBatch. It does not wait for more: under load, slots free while a
// claim is in flight and the next claim takes them together, so batches
// form by themselves without delaying an idle pool. (A fixed linger was
// tried: it halved round trips at low concurrency but slowed every claim
// while any long or hung handler ran.) It returns 0 when ctx ends first.
func (p *Pool) acquire(ctx context.Context) int {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return 0
	}
	return 1 + p.acquireFree(maxBatch-1)
}

// acquireFree takes up to max slots that are free now, without waiting.
func (p *Pool) acquireFree(max int) int {
	n := 0
	for n < max {
		select {
		case p.slots <- struct{}{}:
			n++
		default:
			return n
		}
	}
	return n
}

// releaseSlots frees n slots taken for tasks that did not come.
func (p *Pool) releaseSlots(n int) {
	for range n {
		<-p.slots
	}
}

// claimQueue takes up to n tasks of queue and starts them: in one round
// trip when the only task taken is head, the ID a wait saw at the head of
// queue ("" for none), else in two. started reports whether the second
// round trip, a start, started a task: a proof that Redis takes writes,
// which the take is not (see redisHealth.ok).
func (p *Pool) claimQueue(ctx context.Context, queue string, n int, head string) (claimed []broker.Claimed, started bool, err error) {
	claimed, t, err := p.b.Take(ctx, queue, n, p.cfg.VisibilityTimeout, head)
	if err != nil || t == nil {
		return claimed, false, err
	}
	rest, _, err := p.b.StartTake(ctx, t, 0, p.cfg.VisibilityTimeout)
	return append(claimed, rest...), len(rest) > 0, err
}

// claimContext bounds one claim call. It is not cut short by shutdown: a
// claim applied in Redis but reported cancelled would leave its tasks
// leased until the lease expired.
func (p *Pool) claimContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), p.cfg.VisibilityTimeout/2)
}

// retryAfter logs a failed call of the claim loop, once per outage when
// Redis is unavailable, and waits backoff's delay; it stops the pool when
// its Redis client was closed.
func (p *Pool) retryAfter(ctx context.Context, op string, err error, backoff *retryDelay) {
	if p.clientClosed(err) {
		return
	}
	if !p.health.failed(op, err) {
		p.log.Error(op+" failed; retrying", "err", err, "in", backoff.peek())
	}
	backoff.sleep(ctx)
}

// clientClosed reports whether err says the pool's Redis client was
// closed, and then stops the pool: a closed client never opens again, so
// every loop that retries Redis calls gives up on such an error.
func (p *Pool) clientClosed(err error) bool {
	if !errors.Is(err, redis.ErrClosed) {
		return false
	}
	p.halt(fmt.Errorf("tasks: the pool's Redis client was closed: %w", err))
	return true
}

// claim takes up to n tasks from queues, in that order: as many as it can
// from the first, then the rest from the next, and so on (an empty queue
// costs one call), skipping those closed to claims. ready is what the last
// wait saw, if anything. A queue whose take its settings refused is
// blocked (gate.go). started reports whether a start (not a take) started
// a task, which proves Redis takes writes (see claimQueue).
func (p *Pool) claim(ctx context.Context, n int, ready broker.Ready, queues []string) (out []*broker.Claimed, started bool, err error) {
	for _, q := range queues {
		if !p.isOpen(q) {
			continue
		}
		_, changed := p.settings.get(q) // before the take: a change after it unblocks
		sent := time.Now()
		cctx, cancel := p.claimContext(ctx)
		head := ""
		if q == ready.Queue {
			head = ready.Head
		}
		got, wrote, err := p.claimQueue(cctx, q, n-len(out), head)
		cancel()
		started = started || wrote
		for i := range got { // started, even if what followed failed
			c := &got[i]
			p.track(c, sent)
			out = append(out, c)
		}
		if gated(err) {
			p.blocks.add(q, changed)
			continue
		}
		if err != nil {
			return out, started, err
		}
		if len(out) == n {
			break
		}
	}
	return out, started, nil
}
