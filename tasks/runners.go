package tasks

import "sync/atomic"

// runners are the goroutines that run handlers, kept for the next attempt
// rather than started afresh for each: a goroutine's stack grows to what
// a handler needs (the attempt, the handler, encoding its result), and a
// new goroutine grew it again on every task. Copying stacks cost about 11%
// of the CPU of a pool draining at concurrency 50. An attempt goes to an
// idle runner if one waits, else to a new one, so a hung handler never
// holds up another attempt; there are about as many runners as the most
// handlers that ever ran at once, abandoned ones still running included.
// A handler leaves its goroutine as it found it (see HandlerFunc).
type runners struct {
	jobs chan func()   // unbuffered: a send succeeds only when a runner waits
	stop chan struct{} // closed when the pool stops: idle runners end
	live atomic.Int32  // runner goroutines
}

func newRunners() *runners {
	return &runners{jobs: make(chan func()), stop: make(chan struct{})}
}

// run runs job on an idle runner, or on a new one if none waits.
func (r *runners) run(job func()) {
	select {
	case r.jobs <- job:
	default:
		r.live.Add(1)
		go r.loop(job)
	}
}

// loop runs job, then whatever jobs come, until the pool stops.
func (r *runners) loop(job func()) {
	defer r.live.Add(-1)
	for {
		job()
		select {
		case job = <-r.jobs:
		case <-r.stop:
			return
		}
	}
}

// close ends the idle runners; busy ones end after their job.
func (r *runners) close() { close(r.stop) }
