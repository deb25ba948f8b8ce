package tasks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

// Broadcast tasks on the worker side. A pool runs the broadcast tasks in its
// inboxes (one per queue, named by its worker ID) when it starts, when the
// events channel says one arrived ("broadcast <queue>") or a queue's
// settings changed (a resume), and at every WorkerHeartbeat, so that an
// event lost with a broken subscription delays a task by one heartbeat at
// most. A paused queue's inbox waits for its resume. Each run holds one of the pool's
// Concurrency slots, is bounded by the task's timeout and recovers panics,
// as any attempt; it is not retried: its outcome is the worker's answer.

// abandonAfter is how long after a broadcast run's context ended a handler
// that ignores it is waited for, before it is answered for as failed.
const abandonAfter = time.Second

// broadcasts runs the pool's broadcast tasks until ctx ends, then waits up
// to Grace for those running, cancels the rest, and answers for what it
// will not run as missing.
func (p *Pool) broadcasts(ctx context.Context) {
	work, stop := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stop(ErrShutdown)
	var running sync.WaitGroup
	tick := time.NewTicker(WorkerHeartbeat)
	defer tick.Stop()
	for {
		for _, q := range p.cfg.Queues {
			if s, _ := p.settings.get(q); !s.Paused { // the script checks too
				p.runInbox(ctx, work, q, &running)
			}
		}
		select {
		case <-ctx.Done():
			p.stopBroadcasts(&running, stop)
			return
		case <-p.bcast:
		case <-tick.C:
		}
	}
}

// runInbox starts the broadcast tasks of the pool's inbox in queue, each
// once a slot is free, until the inbox is empty or ctx ends.
func (p *Pool) runInbox(ctx, work context.Context, queue string, running *sync.WaitGroup) {
	for {
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		bt, err := p.b.StartBroadcast(ctx, queue, p.id)
		if err != nil || bt == nil {
			<-p.slots
			if err != nil && !errors.Is(err, broker.ErrPaused) && ctx.Err() == nil && !p.clientClosed(err) && !p.health.failed("start a broadcast task", err) {
				p.log.Warn("starting a broadcast task failed", "queue", queue, "err", err)
			}
			return
		}
		running.Add(1)
		go func() {
			defer running.Done()
			defer func() { <-p.slots }()
			status, text := p.runBroadcast(work, bt)
			p.answer(bt, status, text)
		}()
	}
}

// runBroadcast runs the handler of bt and returns the worker's answer.
func (p *Pool) runBroadcast(work context.Context, bt *broker.BroadcastTask) (results.WorkerStatus, string) {
	timeout := bt.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeoutCause(work, timeout, ErrTimeout)
	defer cancel()
	h, ok := p.reg.lookup(bt.Name)
	if !ok {
		return results.WorkerFailed, fmt.Sprintf("no handler for %q in this worker", bt.Name)
	}
	c := &broker.Claimed{ID: bt.ID, Name: bt.Name, Queue: bt.Queue, Payload: bt.Payload, Attempts: 1}
	type returned struct {
		result any
		err    error
	}
	ch := make(chan returned, 1)
	go func() {
		r, err := p.call(ctx, h.fn, c)
		ch <- returned{r, err}
	}()
	var out returned
	select {
	case out = <-ch:
	case <-ctx.Done():
		select {
		case out = <-ch:
		case <-time.After(abandonAfter):
			out.err = fmt.Errorf("handler ignores cancellation (%w); abandoned", context.Cause(ctx))
		}
	}
	cause := context.Cause(ctx)
	switch {
	case out.err != nil && errors.Is(cause, ErrShutdown):
		return results.WorkerMissing, "worker stopped before the handler finished"
	case out.err != nil && errors.Is(cause, ErrTimeout):
		return results.WorkerFailed, fmt.Sprintf("timed out after %s: %v", timeout, out.err)
	case out.err != nil:
		return results.WorkerFailed, out.err.Error()
	}
	raw, err := encodeResult(out.result)
	if err != nil {
		return results.WorkerFailed, err.Error()
	}
	return results.WorkerSucceeded, string(raw)
}

// answer records the pool's answer to bt, retrying transient Redis errors
// for up to a minute; an answer that cannot be written leaves the worker's
// part running until the maintainers report it missing.
func (p *Pool) answer(bt *broker.BroadcastTask, status results.WorkerStatus, text string) {
	switch status {
	case results.WorkerSucceeded:
		p.stats.succeeded.Add(1)
	case results.WorkerFailed:
		p.stats.failed.Add(1)
	}
	deadline := time.Now().Add(time.Minute)
	delay := newRetryDelay(20*time.Millisecond, 2*time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err := p.b.AnswerBroadcast(ctx, bt.ID, bt.Queue, p.id, status, text)
		cancel()
		if err == nil {
			return
		}
		if errors.Is(err, context.Canceled) || time.Now().Add(delay.peek()).After(deadline) || p.clientClosed(err) {
			p.log.Error("could not record the answer to a broadcast task", "task_id", bt.ID, "queue", bt.Queue, "name", bt.Name, "err", err)
			return
		}
		delay.sleep(context.Background())
	}
}

// stopBroadcasts waits up to Grace for the running broadcast handlers,
// cancels those still running (they answer missing), then answers missing
// for the tasks still in the pool's inboxes: a stopped worker runs
// nothing more, and its targets need not wait for its heartbeat to lapse.
func (p *Pool) stopBroadcasts(running *sync.WaitGroup, stop context.CancelCauseFunc) {
	finished := make(chan struct{})
	go func() { running.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(p.cfg.Grace):
		stop(ErrShutdown)
		select {
		case <-finished:
		case <-time.After(2 * abandonAfter):
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, q := range p.cfg.Queues {
		ids, err := p.b.Inbox(ctx, q, p.id)
		if err != nil {
			return
		}
		for _, id := range ids {
			if _, _, err := p.b.AnswerBroadcast(ctx, id, q, p.id, results.WorkerMissing, "worker stopped before it ran the task"); err != nil {
				return
			}
		}
	}
}

// ID returns the pool's worker ID: how the workers list (Inspector
// Workers) and the answers of broadcast tasks name it. It is new with each
// pool, made by NewPool.
func (p *Pool) ID() string { return p.id }
