package tasks

import (
	"context"
	"encoding/json"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
)

// Version is runq's version, which workers report in their heartbeats and
// `runq version` prints. A release that changes the Redis layout states
// its upgrade path in its notes.
const Version = "0.2.0"

// tally counts the attempts a pool finished, by queue and step of time,
// until its next heartbeat reports them.
type tally struct {
	mu    sync.Mutex
	steps map[string]map[int64]broker.StepCount
	kept  map[string]map[string]int64 // succeeded, by queue and broker.KeptMinute
	fresh chan struct{}               // signaled when counts arrive in an empty tally
}

// reportWithin is how soon after the first count since the last heartbeat
// the next one reports it: counts show within a second, and a busy pool
// still sends at most two heartbeats a second.
const reportWithin = 500 * time.Millisecond

// add counts the finished attempt f, recorded at now.
func (t *tally) add(f broker.Finish, now time.Time) {
	queue, failed := f.Claimed.Queue, f.Outcome == broker.Failed || f.Outcome == broker.Retry
	step := ThroughputStep.Milliseconds()
	at := now.UnixMilli() / step * step
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.steps == nil && t.fresh != nil {
		wake(t.fresh)
	}
	if f.Outcome == broker.Succeeded {
		t.addKept(queue, f.Claimed.ResultTTL, now)
	}
	if t.steps == nil {
		t.steps = make(map[string]map[int64]broker.StepCount)
	}
	q := t.steps[queue]
	if q == nil {
		q = make(map[int64]broker.StepCount, 2)
		t.steps[queue] = q
	}
	c := q[at]
	c.Processed++
	if failed {
		c.Failed++
	}
	q[at] = c
}

// addKept counts a task of queue that succeeded at now, its record kept
// for ttl (for good when 0).
func (t *tally) addKept(queue string, ttl time.Duration, now time.Time) {
	var expireAt time.Time
	if ttl > 0 {
		expireAt = now.Add(ttl)
	}
	if t.kept == nil {
		t.kept = make(map[string]map[string]int64)
	}
	if t.kept[queue] == nil {
		t.kept[queue] = make(map[string]int64, 2)
	}
	t.kept[queue][broker.KeptMinute(expireAt)]++
}

// take returns the counts so far and starts anew.
func (t *tally) take() (map[string]map[int64]broker.StepCount, map[string]map[string]int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, k := t.steps, t.kept
	t.steps, t.kept = nil, nil
	return s, k
}

// putBack returns counts that could not be reported, for the next try.
func (t *tally) putBack(s map[string]map[int64]broker.StepCount, kept map[string]map[string]int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for queue, minutes := range kept {
		if t.kept == nil {
			t.kept = make(map[string]map[string]int64)
		}
		if t.kept[queue] == nil {
			t.kept[queue] = make(map[string]int64, len(minutes))
		}
		for m, n := range minutes {
			t.kept[queue][m] += n
		}
	}
	if t.steps == nil {
		t.steps = make(map[string]map[int64]broker.StepCount, len(s))
	}
	for queue, steps := range s {
		q := t.steps[queue]
		if q == nil {
			q = make(map[int64]broker.StepCount, len(steps))
			t.steps[queue] = q
		}
		for at, c := range steps {
			n := q[at]
			n.Processed += c.Processed
			n.Failed += c.Failed
			q[at] = n
		}
	}
}

// heartbeat reports the pool as a live worker every WorkerHeartbeat, with
// the attempts it finished, until ctx ends; then it leaves the list.
func (p *Pool) heartbeat(ctx context.Context) {
	host, _ := os.Hostname()
	info := WorkerInfo{ID: p.id, Host: host, PID: os.Getpid(), Queues: p.cfg.Queues,
		Weights: p.cfg.Weights, Concurrency: p.cfg.Concurrency, StartedAt: time.Now().UTC(), Version: Version,
		Handlers: p.reg.Names()}
	if p.cfg.BatchWait > 0 {
		info.BatchWait = p.cfg.BatchWait.String()
	}
	tick := time.NewTicker(WorkerHeartbeat)
	defer tick.Stop()
	for {
		p.beat(ctx, &info)
		select {
		case <-p.tally.fresh:
			select { // gather what else finishes meanwhile
			case <-time.After(reportWithin):
			case <-ctx.Done():
			}
		case <-ctx.Done():
			leave, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			p.beat(leave, &info) // the last counts
			if err := p.b.Leave(leave, p.id, WorkerTimeout); err != nil {
				p.log.Warn("could not remove this worker from the live list; it leaves after the heartbeat timeout", "err", err)
			}
			cancel()
			return
		case <-tick.C:
		}
	}
}

// beat sends one heartbeat; counts it could not send wait for the next.
func (p *Pool) beat(ctx context.Context, info *WorkerInfo) {
	info.Running = p.Running()
	enc, err := json.Marshal(info)
	if err != nil {
		p.log.Error("heartbeat: encode", "err", err)
		return
	}
	steps, kept := p.tally.take()
	err = p.b.Beat(ctx, broker.Heartbeat{ID: p.id, Info: enc, Timeout: WorkerTimeout,
		Queues: p.cfg.Queues, Steps: steps, Keep: ThroughputSpan + time.Hour, Kept: kept})
	if err != nil {
		p.tally.putBack(steps, kept)
		if ctx.Err() == nil && !p.health.failed("heartbeat", err) {
			p.log.Warn("heartbeat failed", "err", err)
		}
	}
}

// newWorkerID names a pool for the workers list: unique, and sortable by
// when it started.
func newWorkerID() string { return uuid.Must(uuid.NewV7()).String() }
