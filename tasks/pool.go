package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
)

// Pool runs the handlers of a Registry on tasks from its queues.
type Pool struct {
	rdb redis.UniversalClient
	b   *broker.Broker
	reg *Registry
	cfg PoolConfig
	log *slog.Logger

	slots     chan struct{}           // one token per running handler, from claim until it returns
	unwritten chan struct{}           // one token per outcome handed to the recorder, until written
	nudge     chan struct{}           // wakes the maintainer when a retry is scheduled
	rec       *recorder               // writes the outcomes of returned attempts
	runners   *runners                // run the handlers; made by Run
	active    atomic.Bool             // Run is running
	idle      idleGate                // lets one fetcher at a time block on Redis
	order     claimOrder              // the order each claim tries the queues in
	health    redisHealth             // logs Redis outages once per change
	settings  settingsCopy            // the queues' settings, kept by listen
	blocks    blocks                  // queues a take found closed to claims (gate.go)
	halt      context.CancelCauseFunc // stops Run's claiming, with why; set by Run
	hookWake  chan struct{}           // wakes the webhook deliverer when this pool ended a task with a callback

	mu      sync.Mutex
	running map[attemptKey]*attempt

	stats poolCounters
	id    string           // in the workers list
	clock func() time.Time // the local clock of the scheduler; tests skew it
	tally tally            // attempts finished since the last heartbeat

	bcast       chan struct{}        // wakes the broadcast loop: a task may be in an inbox
	cancelSince map[string]time.Time // queue -> where readCancels reads from next; the keeper's

	bwatch broadcastWatch // when the maintenance looks for open broadcasts
}

// NewPool returns a Pool that runs reg's handlers on tasks from the Redis of
// rdb, which stays the caller's to close. Calls are bounded by their
// contexts only when rdb has ContextTimeoutEnabled (Connect's client has
// it). A Prefix that broker.ValidPrefix refuses panics; queue names and
// weights are checked by Run.
func NewPool(rdb redis.UniversalClient, reg *Registry, cfg PoolConfig) *Pool {
	cfg = cfg.withDefaults()
	if cfg.Prefix != "" {
		if err := broker.ValidPrefix(cfg.Prefix); err != nil {
			panic("tasks: PoolConfig.Prefix: " + err.Error())
		}
	}
	p := &Pool{
		rdb:       rdb,
		b:         broker.New(rdb, cfg.Prefix),
		reg:       reg,
		cfg:       cfg,
		log:       cfg.Logger,
		slots:     make(chan struct{}, cfg.Concurrency),
		unwritten: make(chan struct{}, cfg.Concurrency),
		nudge:     make(chan struct{}, 1),
		hookWake:  make(chan struct{}, 1),
		running:   make(map[attemptKey]*attempt),
		id:        newWorkerID(),
		order:     newClaimOrder(cfg.Queues, cfg.Weights),
		clock:     time.Now,
	}
	p.b.SetFailedTTL(cfg.FailedTTL)
	p.tally.fresh = make(chan struct{}, 1)
	p.bcast = make(chan struct{}, 1)
	p.health.log = cfg.Logger
	p.rec = newRecorder(p)
	return p
}

// attemptKey names one attempt: a task can have a zombie attempt and a
// live one in the same pool.
type attemptKey struct {
	id    uuid.UUID
	token string
}

func keyOf(c *broker.Claimed) attemptKey { return attemptKey{c.ID, c.Token} }

// attempt is one handler run in progress.
type attempt struct {
	c         *broker.Claimed
	cancel    context.CancelCauseFunc
	confirmed time.Time // local time a successful claim or renewal was sent
	started   time.Time // local time the handler was launched; zero until then
	overdue   time.Time // past this, a handler still running is abandoned
	lost      bool      // lease lost or abandoned: a zombie if still running
	abandoned bool      // the keeper records (or recorded) the outcome
	recorded  bool      // the keeper's record of an abandoned attempt is done
	returned  bool      // the handler returned: its executor records the outcome
	canceled  bool      // its cancel was asked: the attempt ends canceled
	watched   bool      // an event stream follows the task (Claimed.Watched, or EventWatch)
}

// Register records the names of the pool's handlers, with their options,
// in Redis, so that the Clients of every process accept their tasks, and
// writes the rate and max running they declare (HandlerOptions) in each
// of the pool's queues, where every worker enforces them. Run does it at
// start; a program that submits before its pool runs (as `runq all` does)
// calls it first.
func (p *Pool) Register(ctx context.Context) error {
	defaults := make(map[string]string)
	for _, name := range p.reg.Names() {
		h, _ := p.reg.lookup(name)
		raw, err := json.Marshal(handlerDefaults(h.opts))
		if err != nil {
			return fmt.Errorf("tasks: encode defaults of %s: %w", name, err)
		}
		defaults[name] = string(raw)
	}
	if err := p.b.RegisterHandlers(ctx, defaults); err != nil {
		return fmt.Errorf("tasks: register handler names: %w", unavailable(err))
	}
	if err := p.writeLimits(ctx); err != nil {
		return fmt.Errorf("tasks: register handler limits: %w", unavailable(err))
	}
	return nil
}

// Run registers the pool's task names, then claims and runs tasks until ctx
// ends, and runs the schedules of its registry (see Registry.Cron). It then stops claiming, waits up to Grace for running handlers,
// cancels the rest and hands their tasks back to their queues at once, and
// returns nil. Handler contexts do not derive from ctx, so stopping does
// not cut work in flight short before the grace period. If the Redis client
// is closed under it, Run cancels running handlers at once (their outcomes
// could not be recorded; their tasks are run again when their leases
// expire) and returns an error matching redis.ErrClosed. A pool runs once
// at a time: a call while another runs returns ErrPoolRunning. A bad queue
// name or weight is an error before anything starts.
func (p *Pool) Run(ctx context.Context) error {
	if !p.active.CompareAndSwap(false, true) {
		return ErrPoolRunning
	}
	defer p.active.Store(false)
	if err := p.cfg.checkQueues(); err != nil {
		return err
	}
	if err := p.Register(ctx); err != nil {
		return err
	}
	defer p.b.Close()
	ctx, p.halt = context.WithCancelCause(ctx)
	defer p.halt(nil)
	work, stopWork := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopWork(ErrShutdown)

	keeperCtx, stopKeeper := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	bg.Add(5)
	go func() { defer bg.Done(); p.keepLeases(keeperCtx) }()
	go func() { defer bg.Done(); p.heartbeat(keeperCtx) }()
	go func() { defer bg.Done(); p.rec.run(keeperCtx) }()
	go func() { defer bg.Done(); p.maintain(ctx) }()
	go func() { defer bg.Done(); p.listen(ctx) }()
	if sc := newScheduler(p); sc != nil {
		bg.Add(1)
		go func() { defer bg.Done(); sc.run(ctx) }()
	}
	bg.Add(2)
	go func() { defer bg.Done(); p.broadcasts(ctx) }()
	go func() { defer bg.Done(); newWebhooks(p).run(ctx) }()

	p.runners = newRunners()
	defer p.runners.close()

	started := []any{"queues", p.cfg.Queues, "concurrency", p.cfg.Concurrency,
		"handlers", p.reg.Names(), "visibility_timeout", p.cfg.VisibilityTimeout}
	if p.cfg.Weights != nil {
		started = append(started, "weights", p.cfg.Weights)
	}
	p.log.Info("worker pool started", started...)
	p.fetchAll(ctx, work)
	closed := context.Cause(ctx)
	if !errors.Is(closed, redis.ErrClosed) {
		closed = nil
		p.drain(stopWork)
	} else {
		// No outcome can be written: waiting is pointless. The cause is a
		// shutdown, so the handlers' attempts are handed back, not failed.
		stopWork(fmt.Errorf("%w: %w", ErrShutdown, closed))
	}
	stopKeeper()
	bg.Wait()
	p.log.Info("worker pool stopped")
	return closed
}

// drain waits up to Grace for running handlers that still hold their lease
// (zombies are not waited for); then cancels them and, a moment later,
// hands back the tasks of handlers that ignore cancellation.
func (p *Pool) drain(stopWork context.CancelCauseFunc) {
	if n := p.live(); n > 0 {
		p.log.Info("worker stopping: waiting for running tasks", "running", n, "grace", p.cfg.Grace)
	}
	if p.waitLive(p.cfg.Grace) {
		return
	}
	p.log.Warn("grace period over: cancelling running tasks and handing them back", "running", p.live())
	stopWork(ErrShutdown)
	if p.waitLive(time.Second) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, a := range p.abandon() {
		outcome := broker.Release
		if a.canceled { // its cancel was asked: handed back, it would run again
			outcome = broker.Canceled
		}
		if !a.started.IsZero() {
			p.observeEnd(a.c, outcome, a.started)
		}
		_, err := p.b.Finish(ctx, []broker.Finish{{Claimed: a.c, Outcome: outcome}})
		p.log.Warn("handler ignores cancellation: task handed back (or canceled, if asked) while it still runs",
			"task_id", a.c.ID, "queue", a.c.Queue, "name", a.c.Name, "outcome", outcome, "err", err)
	}
}

// waitLive waits up to d for every handler holding a lease to return, and
// reports whether they did. Shutdown is the only caller; it checks every
// 20ms rather than keep a condition variable on the hot path.
func (p *Pool) waitLive(d time.Duration) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for p.live() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// live counts running handlers that are not zombies.
func (p *Pool) live() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, a := range p.running {
		if !a.lost {
			n++
		}
	}
	return n
}

// abandon marks every running attempt lost and returns them.
func (p *Pool) abandon() []*attempt {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*attempt
	for _, a := range p.running {
		if !a.lost && !a.returned { // a returned handler's executor records it
			a.lost, a.abandoned = true, true
			out = append(out, a)
		}
	}
	return out
}

// Running returns how many attempts are in progress (handlers running, or
// returned with their outcome not yet written), zombies included.
func (p *Pool) Running() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.running)
}

func (p *Pool) track(c *broker.Claimed, sent time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running[keyOf(c)] = &attempt{c: c, confirmed: sent, watched: c.Watched}
}

// launch runs c's handler on a runner, holding one slot, under the
// deadline of g (see launchAll).
func (p *Pool) launch(g *deadlineGroup, c *broker.Claimed) {
	ctx, cancel := context.WithCancelCause(g.ctx)
	now := time.Now()
	p.mu.Lock()
	a := p.running[keyOf(c)]
	a.cancel = cancel
	a.started = now
	a.overdue = now.Add(p.timeout(c) + p.cfg.VisibilityTimeout/4)
	if a.canceled { // asked between the claim and now
		p.cancelAttempt(a, now)
	}
	p.mu.Unlock()
	p.observeStart(c, now)
	p.runners.run(func() {
		if c.Watched {
			p.note(c) // the start, before any progress the handler reports
		}
		f, mine := p.executeDone(ctx, c, cancel, g)
		if !mine { // abandoned: the keeper recorded it
			p.forget([]broker.Finish{f})
			<-p.slots
			return
		}
		p.observeEnd(c, f.Outcome, now)
		// The handler is done, so its slot goes to the next task at once,
		// while the outcome waits to be written: claiming overlaps
		// recording. At most Concurrency outcomes wait; past that the
		// handler keeps its slot, and claiming stops, until the recorder
		// catches up.
		p.unwritten <- struct{}{}
		<-p.slots
		p.rec.add(f)
	})
}

// executeDone runs the attempt of c, then cancels its context and counts
// it out of its deadline group, even if the handler ends its goroutine
// (runtime.Goexit).
func (p *Pool) executeDone(ctx context.Context, c *broker.Claimed, cancel context.CancelCauseFunc, g *deadlineGroup) (broker.Finish, bool) {
	defer g.done()
	defer cancel(nil)
	return p.execute(ctx, c)
}

// timeout is the time limit of one attempt of c: a Client always stores
// one, so the default serves only a task written otherwise.
func (p *Pool) timeout(c *broker.Claimed) time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// Stats returns the pool's counters since it was made.
func (p *Pool) Stats() PoolStats {
	s := p.stats.snapshot()
	p.mu.Lock()
	for _, a := range p.running {
		if a.lost {
			s.Zombies++
		}
	}
	s.Running = len(p.running)
	p.mu.Unlock()
	return s
}

// PoolStats counts what a pool has done.
type PoolStats struct {
	Succeeded int64 // attempts that stored a result
	Failed    int64 // attempts that failed the task for good
	Retried   int64 // attempts that failed and scheduled a retry
	Released  int64 // attempts handed back at shutdown
	Panics    int64 // attempts whose handler panicked
	LeaseLost int64 // attempts whose outcome was refused: the lease was gone
	Abandoned int64 // attempts whose handler ignored its timeout: failed without it
	Running   int   // attempts in progress: handlers running, or returned with their outcome not yet written
	Zombies   int   // of those, handlers whose lease is lost or abandoned
	Canceled  int64 // attempts ended canceled: their cancel was asked while they ran
}

type poolCounters struct {
	succeeded, failed, retried, released, panics, leaseLost, abandoned atomic.Int64
	canceled                                                           atomic.Int64
}

func (c *poolCounters) snapshot() PoolStats {
	return PoolStats{
		Succeeded: c.succeeded.Load(), Failed: c.failed.Load(), Retried: c.retried.Load(),
		Released: c.released.Load(), Panics: c.panics.Load(), LeaseLost: c.leaseLost.Load(),
		Abandoned: c.abandoned.Load(), Canceled: c.canceled.Load(),
	}
}

// errIs reports whether err is any of targets.
func errIs(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
