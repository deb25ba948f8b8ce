package tasks

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
)

// watchTask marks the pool's attempts of task id watched, on EventWatch:
// an event stream began to follow the task while it ran, so the outcome of
// the attempt, if it does not end the task, is noted in its stream.
func (p *Pool) watchTask(id uuid.UUID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, a := range p.running {
		if k.id == id {
			a.watched = true
		}
	}
}

// isWatched reports whether an event stream follows c's task.
func (p *Pool) isWatched(c *broker.Claimed) bool {
	if c.Watched {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.running[keyOf(c)]
	return a != nil && a.watched
}

// note adds the status of c's watched task to its event stream (the
// start of an attempt, a retry or a release, which the scripts that make
// them leave out). A failure is logged: the stream misses one event, and
// the task's next event or end shows its state.
func (p *Pool) note(c *broker.Claimed) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := p.b.Note(ctx, c); err != nil && !p.health.failed("note a task event", err) {
		p.taskLog(c).Warn("noting a task event failed", "err", err)
	}
}
