package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
)

// scheduler runs the schedules of a pool's registry: at each tick it asks
// Redis to create the tick's task, which Redis does for the first process
// that asks (broker.Tick). Between ticks it sleeps on one timer; a
// schedule costs one script call per tick, and one an hour when its ticks
// are further apart (to show it is still declared).
//
// Ticks fall on Redis's clock, as the scheduler reads it from each reply,
// so replicas whose clocks disagree still ask for the same tick at the
// same moment; and a tick at or before the last one recorded creates
// nothing, so a process that is late creates no second task.
type scheduler struct {
	p       *Pool
	c       *Client          // resolves a task's options as a submission does
	now     func() time.Time // the local clock
	offset  time.Duration    // Redis's clock minus the local clock, as last measured
	entries []*scheduled
}

// scheduled is one schedule as the scheduler runs it. Times are on
// Redis's clock.
type scheduled struct {
	s        *schedule
	log      *slog.Logger
	next     time.Time      // the tick to ask for
	due      time.Time      // when to ask: next, or later to retry a failed call
	task     broker.NewTask // next's task, kept across retries so that a resent call is known
	declared time.Time      // when this process last recorded the schedule as declared
	reported time.Time      // missed ticks until here were logged (or ran)
	failing  string         // why the last tick failed, logged once; "" when it did not
	backoff  *retryDelay
}

// Timing of the scheduler.
const (
	// tickLeeway is how far ahead of Redis's clock a tick may be asked
	// for: a process whose measure of the clock is off by more waits.
	tickLeeway = time.Second
	// redeclareEvery is how often a schedule is declared again when no
	// tick did it meanwhile.
	redeclareEvery = time.Hour
	// missedSlack keeps the last second out of the ticks counted as
	// missed at start: another process may be creating that task now.
	missedSlack = time.Second
	// maxTickScan bounds the ticks walked to count missed ones, or to find
	// the last due after a late wake.
	maxTickScan = 100_000
	// tickCallTimeout bounds one call of a tick.
	tickCallTimeout = 5 * time.Second
)

// newScheduler returns the scheduler of p's schedules, or nil when it has
// none. Its tasks take runq's defaults after their handlers', as those of
// a Client of ClientConfig{} do.
func newScheduler(p *Pool) *scheduler {
	all := p.reg.allSchedules()
	if len(all) == 0 {
		return nil
	}
	c := newClient(p.rdb, ClientConfig{Prefix: p.cfg.Prefix, Logger: p.log}.withDefaults())
	sc := &scheduler{p: p, c: c, now: p.clock}
	for _, s := range all {
		sc.entries = append(sc.entries, &scheduled{s: s, backoff: newRetryDelay(100*time.Millisecond, 5*time.Second),
			log: p.log.With("schedule", s.id, "name", s.req.Name, "queue", s.req.Queue)})
	}
	return sc
}

// clock is the time on Redis's clock, as last measured.
func (sc *scheduler) clock() time.Time { return sc.now().Add(sc.offset).UTC() }

// measure sets the offset of Redis's clock from a call sent at sent and
// answered at got (local clock) with Redis's time then.
func (sc *scheduler) measure(sent, got, redis time.Time) {
	sc.offset = redis.Sub(sent.Add(got.Sub(sent) / 2))
}

// run declares the schedules, then asks for their ticks until ctx ends.
func (sc *scheduler) run(ctx context.Context) {
	if !sc.start(ctx) {
		return
	}
	timer := time.NewTimer(sc.wait())
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if ctx.Err() != nil {
			return
		}
		sc.redeclare(ctx)
		for _, e := range sc.entries {
			if !sc.clock().Before(e.due) && !sc.tick(ctx, e) {
				return
			}
		}
		timer.Reset(sc.wait())
	}
}

// wait is how long until the next tick or declaration is due.
func (sc *scheduler) wait() time.Duration {
	at := sc.entries[0].due
	for _, e := range sc.entries {
		at = minTime(at, e.due, e.declared.Add(redeclareEvery))
	}
	return max(at.Sub(sc.clock()), 0)
}

// minTime returns the earliest of t and ts.
func minTime(t time.Time, ts ...time.Time) time.Time {
	for _, u := range ts {
		if u.Before(t) {
			t = u
		}
	}
	return t
}

// start declares every schedule, retrying until Redis takes it, and sets
// each schedule's first tick after now, logging the ticks missed since its
// last run: they are skipped, not run late. It reports false when ctx
// ended first.
func (sc *scheduler) start(ctx context.Context) bool {
	backoff := newRetryDelay(100*time.Millisecond, 5*time.Second)
	for {
		runs, err := sc.declare(ctx, sc.entries)
		if err == nil {
			now := sc.clock()
			for i, e := range sc.entries {
				sc.first(e, runs[i].Tick, now)
			}
			return true
		}
		if ctx.Err() != nil || sc.p.clientClosed(err) {
			return false
		}
		if !sc.p.health.failed("declare schedules", err) {
			sc.p.log.Error("declaring schedules failed; retrying", "err", err, "in", backoff.peek())
		}
		backoff.sleep(ctx)
	}
}

// first sets e's first tick, the first after now, and logs the ticks
// missed since its last run (zero for none): they are skipped.
func (sc *scheduler) first(e *scheduled, last, now time.Time) {
	e.next = e.s.times.Next(now)
	e.due, e.reported = e.next, now
	attrs := []any{"spec", e.s.spec, "next_run", e.next}
	if !last.IsZero() {
		attrs = append(attrs, "last_run", last)
		if n, more := countTicks(e.s.times, last, now.Add(-missedSlack)); n > 0 {
			e.log.Warn("schedule missed ticks while no process ran it: skipped, not run late",
				"missed", n, "at_least", more, "last_run", last)
		}
	}
	e.log.Info("schedule declared", attrs...)
}

// declare records es as declared, with what this process declares them
// as, and returns their last runs.
func (sc *scheduler) declare(ctx context.Context, es []*scheduled) ([]broker.ScheduleRun, error) {
	ds := make([]broker.ScheduleDecl, len(es))
	for i, e := range es {
		info, err := json.Marshal(e.s.info())
		if err != nil {
			return nil, err
		}
		ds[i] = broker.ScheduleDecl{ID: e.s.id, Queue: e.s.req.Queue, Info: info}
	}
	cctx, cancel := context.WithTimeout(ctx, tickCallTimeout)
	defer cancel()
	sent := sc.now()
	runs, redisNow, err := sc.p.b.DeclareSchedules(cctx, ds)
	if err != nil {
		return nil, err
	}
	sc.measure(sent, sc.now(), redisNow)
	for _, e := range es {
		e.declared = redisNow
	}
	return runs, nil
}

// redeclare declares again the schedules that no tick declared for
// redeclareEvery; a failure is retried in a minute.
func (sc *scheduler) redeclare(ctx context.Context) {
	now := sc.clock()
	var stale []*scheduled
	for _, e := range sc.entries {
		if !now.Before(e.declared.Add(redeclareEvery)) {
			stale = append(stale, e)
		}
	}
	if len(stale) == 0 {
		return
	}
	if _, err := sc.declare(ctx, stale); err != nil && ctx.Err() == nil {
		for _, e := range stale {
			e.declared = now.Add(time.Minute - redeclareEvery)
		}
		if !sc.p.health.failed("declare schedules", err) {
			sc.p.log.Warn("declaring schedules again failed; retrying in a minute", "err", err)
		}
	}
}

// tick asks for the last tick of e that is due, and sets e's next one. A
// failed call is retried until the tick after is due. It reports false
// when the pool's Redis client was closed.
func (sc *scheduler) tick(ctx context.Context, e *scheduled) bool {
	tick, skipped := lastDue(e.s.times, e.next, sc.clock())
	if tick.IsZero() { // too far behind to walk: start again from now
		e.log.Warn("schedule fell behind by more ticks than are walked: skipped, not run late", "missed_at_least", skipped)
		sc.advance(e, sc.clock())
		return true
	}
	if tick != e.next || e.task.ID == (uuid.UUID{}) {
		e.next, e.task = tick, broker.NewTask{}
		opts, err := sc.c.handlerOptions(ctx, []Request{e.s.req})
		if err != nil {
			return sc.failed(ctx, e, err)
		}
		e.task = sc.c.resolve(&e.s.req, opts[0])
	}
	cctx, cancel := context.WithTimeout(ctx, tickCallTimeout)
	sent := sc.now()
	res, err := sc.p.b.Tick(cctx, e.s.id, tick, tickLeeway, &e.task)
	cancel()
	if err != nil {
		return sc.failed(ctx, e, err)
	}
	sc.measure(sent, sc.now(), res.Now)
	e.declared = res.Now
	sc.ticked(e, tick, res, sent)
	return true
}

// ticked takes in what the call for e's tick, sent at sent, did.
func (sc *scheduler) ticked(e *scheduled, tick time.Time, res broker.TickResult, sent time.Time) {
	switch res.State {
	case broker.TickEarly: // this process's measure of Redis's clock was off: wait by the new one
		e.due = tick
		return
	case broker.TickCreated:
		sc.p.health.ok(sent)
		if from := maxTime(res.Prev.Tick, e.reported); !res.Prev.Tick.IsZero() {
			if n, more := countTicks(e.s.times, from, tick.Add(-time.Nanosecond)); n > 0 {
				e.log.Warn("schedule missed ticks that no process asked for in time: skipped",
					"missed", n, "at_least", more, "last_run", res.Prev.Tick)
			}
		}
		e.log.Debug("schedule created its task", "tick", tick, "task_id", e.task.ID)
	}
	if e.failing != "" {
		e.log.Info("schedule ticks again", "was", e.failing)
		e.failing = ""
	}
	sc.advance(e, maxTime(tick, res.Prev.Tick))
}

// advance sets e's next tick after t.
func (sc *scheduler) advance(e *scheduled, t time.Time) {
	e.reported = maxTime(e.reported, t)
	e.next = e.s.times.Next(t)
	e.due, e.task = e.next, broker.NewTask{}
	e.backoff.reset()
}

// failed logs why e's tick failed, once while it keeps failing for the
// same reason, and schedules a retry; a name that no worker handles skips
// the tick. It reports false when the pool's Redis client was closed.
func (sc *scheduler) failed(ctx context.Context, e *scheduled, err error) bool {
	if ctx.Err() != nil {
		return true
	}
	if sc.p.clientClosed(err) {
		return false
	}
	why := err.Error()
	if errors.Is(err, ErrUnknownName) {
		if e.failing != why {
			e.log.Warn("schedule skips its ticks: no worker has registered its task name", "err", err)
		}
		e.failing = why
		sc.advance(e, e.next)
		return true
	}
	if !sc.p.health.failed("schedule tick", err) && e.failing != why {
		e.log.Warn("schedule tick failed; retrying until the next tick", "err", err)
	}
	e.failing = why
	e.due = sc.clock().Add(e.backoff.take())
	return true
}

// maxTime returns the later of a and b.
func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// lastDue returns the last tick of tt from next to now, next when none
// after it is due; the zero time, with the ticks walked, when more than
// maxTickScan are due.
func lastDue(tt timetable, next, now time.Time) (time.Time, int) {
	if ev, ok := tt.(every); ok {
		if now.Before(next) {
			return next, 0
		}
		return time.Unix(0, now.UnixNano()/int64(ev.d)*int64(ev.d)).UTC(), 0
	}
	t := next
	for i := 0; i < maxTickScan; i++ {
		n := tt.Next(t)
		if n.IsZero() || n.After(now) {
			return t, 0
		}
		t = n
	}
	return time.Time{}, maxTickScan
}

// countTicks counts the ticks of tt after from and up to to, walking at
// most maxTickScan of them (more then reports that there are more).
func countTicks(tt timetable, from, to time.Time) (n int, more bool) {
	if !to.After(from) {
		return 0, false
	}
	if ev, ok := tt.(every); ok {
		d := int64(ev.d)
		return int(to.UnixNano()/d - from.UnixNano()/d), false
	}
	for t := tt.Next(from); !t.IsZero() && !t.After(to); t = tt.Next(t) {
		if n == maxTickScan {
			return n, true
		}
		n++
	}
	return n, false
}
