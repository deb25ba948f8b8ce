package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

// Client submits tasks, reads and waits for their records, and cancels
// them, on one Redis. It refuses names that no worker has registered,
// reading the names workers record in Redis (cached once seen). It is safe
// for concurrent use.
type Client struct {
	rdb   redis.UniversalClient
	owned bool // Connect opened rdb: Close closes it
	b     *broker.Broker
	cfg   ClientConfig

	mu    sync.RWMutex
	known map[string]HandlerOptions // names seen registered, with defaults

	watcher *results.Watcher
	rooms   *rooms // submissions waiting for room in full queues

	queues sync.Map // queue names this client has recorded as known

	// Close marks the client closed, stops the watcher (which ends the
	// Waits), then takes calls exclusively: it closes rdb only once every
	// call in progress has returned. Each call holds calls shared; calls
	// never nest, so a pending Close cannot deadlock one.
	calls     sync.RWMutex
	closeMu   sync.Mutex         // orders Close with the watcher's start
	closed    atomic.Bool        // set under closeMu; read by every call
	closing   chan struct{}      // closed by Close, before it stops the watcher
	stopWatch context.CancelFunc // set by the first Wait, under closeMu
	watched   chan struct{}      // closed when the watcher's Run returns

	followOnce sync.Once
	follow     *follower // the subscription of Events calls; made by the first
}

// NewClient returns a Client that works through rdb, which stays the
// caller's to close. Calls are bounded by their contexts only when rdb has
// ContextTimeoutEnabled (Connect sets it). An invalid cfg panics, as a
// programmer's error found at start.
func NewClient(rdb redis.UniversalClient, cfg ClientConfig) *Client {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		panic(err.Error())
	}
	return newClient(rdb, cfg)
}

func newClient(rdb redis.UniversalClient, cfg ClientConfig) *Client {
	c := &Client{rdb: rdb, b: broker.New(rdb, cfg.Prefix), cfg: cfg,
		known: make(map[string]HandlerOptions), closing: make(chan struct{})}
	c.watcher = results.NewWatcher(c.b, cfg.Logger)
	c.rooms = newRooms(c.b, cfg.Logger)
	return c
}

// Connect connects to the Redis at redisURL (redis://[:password@]host:port/db,
// rediss:// for TLS, or unix://), checks that it answers and that runq can
// use it, and returns a Client on it. Close closes the connection. An
// invalid cfg is an error wrapping ErrInvalid, found before connecting.
func Connect(ctx context.Context, redisURL string, cfg ClientConfig) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("tasks: connect: %w", err)
	}
	rdb, err := broker.Open(ctx, redisURL, 0)
	if err != nil {
		return nil, fmt.Errorf("tasks: connect: %w", unavailable(err))
	}
	c := newClient(rdb, cfg)
	c.owned = true
	return c, nil
}

// Redis returns the Redis client the Client works through, for a Pool in
// the same process: tasks.NewPool(c.Redis(), reg, cfg). When Connect opened
// it, Close closes it: stop the pool first (cancel Run's context and let Run
// return), or the pool stops then, cancelling its running handlers.
func (c *Client) Redis() redis.UniversalClient { return c.rdb }

// Close ends the subscriptions that Wait and waits for room share, and
// closes the Redis connection if Connect opened it. Waits in progress
// return at once with the task's current record and ErrClosed, Submits
// waiting for room with ErrClosed, parked submissions (ParkSubmit) answer
// with their last refusal, and Close returns after them.
// Calls after Close return ErrClosed; a second Close does nothing.
func (c *Client) Close() error {
	c.closeMu.Lock()
	if c.closed.Load() {
		c.closeMu.Unlock()
		return nil
	}
	c.closed.Store(true)
	close(c.closing)
	c.closeMu.Unlock()
	c.rooms.close() // submissions waiting for room end, and parked ones answer
	c.follower().close()
	if c.stopWatch != nil {
		c.stopWatch()
		<-c.watched
	}
	c.calls.Lock() // once the calls in progress have returned
	defer c.calls.Unlock()
	err := c.b.Close()
	if c.owned {
		if cerr := c.rdb.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Submit validates r, fills in its defaults (r's options, then its
// handler's, then the client's), queues the task and returns its record,
// status queued, or scheduled (with its RunAt) when r holds it back. Concurrent Submits share Redis round trips. Errors:
// ErrInvalid for a bad request and ErrUnknownName for a name no worker
// handles, with nothing queued; ErrQueueFull when the queue holds its
// max_length of queued tasks, with nothing queued, at once unless ctx
// comes from WaitForRoom; ErrUnavailable when Redis cannot take it.
// Concurrent Submits share one write to Redis, which ctx does not cut
// short: once the task is handed to a write, Submit returns that write's
// outcome (each write is bounded by 10s), so that a nil error always means
// the task was queued and an error, but for ErrUnavailable after a lost
// answer, that it was not.
func (c *Client) Submit(ctx context.Context, r Request) (results.Record, error) {
	if err := c.begin("submit"); err != nil {
		return results.Record{}, err
	}
	defer c.calls.RUnlock()
	recs, err := c.submit(ctx, []Request{r})
	if err != nil {
		return results.Record{}, err
	}
	return recs[0], nil
}

// MaxBatch is the most tasks one SubmitBatch takes.
const MaxBatch = 1000

// SubmitBatch submits up to MaxBatch tasks, with Submit's defaults and
// errors, in a write of their own (one round trip, one script call per
// queue; a batch spanning several queues first holds room in the bounded
// ones, in a round trip before) bounded by ctx: a ctx that ends during the
// write leaves unknown whether the tasks were queued (a batch of one is
// written as Submit's task is). Every request is validated first and none
// is queued unless all are valid (the error names the first bad one by
// index). Each queue's tasks are queued atomically. Bounded queues take a
// batch all or nothing: when one lacks room for its tasks, none is queued
// anywhere (ErrQueueFull; see WaitForRoom to wait instead). Across queues,
// a Redis failure midway can leave some queued. A batch whose tasks carry
// idempotency or unique keys keeps to one queue (else ErrInvalid), so that
// a key found held refuses it whole.
func (c *Client) SubmitBatch(ctx context.Context, rs []Request) ([]results.Record, error) {
	if len(rs) == 0 || len(rs) > MaxBatch {
		return nil, fmt.Errorf("%w: a batch holds 1 to %d tasks, not %d", ErrInvalid, MaxBatch, len(rs))
	}
	if err := c.begin("submit"); err != nil {
		return nil, err
	}
	defer c.calls.RUnlock()
	return c.submit(ctx, rs)
}

// begin counts a call in, holding calls shared until the caller's
// c.calls.RUnlock; ErrClosed after Close.
func (c *Client) begin(op string) error {
	c.calls.RLock()
	if c.closed.Load() {
		c.calls.RUnlock()
		return fmt.Errorf("tasks: %s: %w", op, ErrClosed)
	}
	return nil
}

func (c *Client) submit(ctx context.Context, rs []Request) ([]results.Record, error) {
	if hasBroadcast(rs) {
		return c.submitBroadcast(ctx, rs)
	}
	ts, err := c.prepare(ctx, rs)
	if err != nil {
		return nil, err
	}
	if WaitsForRoom(ctx) {
		return c.enqueueWaiting(ctx, ts)
	}
	return c.enqueue(ctx, ts)
}

// prepare validates rs and builds the tasks to store, with their defaults.
func (c *Client) prepare(ctx context.Context, rs []Request) ([]broker.NewTask, error) {
	for i := range rs {
		err := rs[i].Validate()
		if err == nil && !c.cfg.WebhookAllowPrivate {
			err = publicCallbackURL(rs[i].CallbackURL)
		}
		if err != nil {
			if len(rs) > 1 {
				err = fmt.Errorf("tasks[%d]: %w", i, err)
			}
			return nil, err
		}
	}
	opts, err := c.handlerOptions(ctx, rs)
	if err != nil {
		return nil, err
	}
	ts := make([]broker.NewTask, len(rs))
	for i := range rs {
		ts[i] = c.resolve(&rs[i], opts[i])
	}
	return ts, nil
}

// enqueuePlain is enqueue for tasks that claim no keys, or for the tasks
// of a keyed submission whose keys were not found held.
func (c *Client) enqueuePlain(ctx context.Context, ts []broker.NewTask) ([]results.Record, error) {
	if err := c.noteQueues(ctx, ts); err != nil {
		return nil, fmt.Errorf("tasks: submit %d: %w", len(ts), unavailable(err))
	}
	created, err := c.b.Enqueue(ctx, ts)
	var full *broker.FullError
	if errors.As(err, &full) {
		return nil, fmt.Errorf("tasks: %w", full)
	}
	if err != nil {
		return nil, fmt.Errorf("tasks: submit %d: %w", len(ts), unavailable(err))
	}
	out := make([]results.Record, len(ts))
	for i, t := range ts {
		out[i] = results.Record{
			ID: t.ID, Name: t.Name, Queue: t.Queue, Status: results.StatusQueued,
			Payload: t.Payload, MaxRetries: t.MaxRetries, Timeout: t.Timeout, ResultTTL: t.ResultTTL,
			CreatedAt: created[i], CallbackURL: t.CallbackURL,
		}
		if at, later := t.Due(created[i]); later {
			out[i].Status, out[i].RunAt = results.StatusScheduled, at
		}
	}
	return out, nil
}

// resolve builds the stored task from r, its handler's options and the
// client's defaults, in that order of precedence.
func (c *Client) resolve(r *Request, opts HandlerOptions) broker.NewTask {
	t := broker.NewTask{
		Name:        r.Name,
		Queue:       first(r.Queue, c.cfg.Queue),
		Payload:     r.Payload,
		MaxRetries:  first(r.MaxRetries, opts.MaxRetries, c.cfg.MaxRetries),
		Timeout:     first(r.Timeout, opts.Timeout, c.cfg.Timeout),
		ResultTTL:   first(r.ResultTTL, c.cfg.ResultTTL),
		Delay:       r.Delay,
		RunAt:       r.RunAt,
		CallbackURL: r.CallbackURL,
	}
	if len(t.Payload) == 0 {
		t.Payload = json.RawMessage("null")
	}
	if t.MaxRetries == NoRetries {
		t.MaxRetries = 0
	}
	t.Keys = keyClaims(r, &t, c.cfg.IdempotencyTTL) // nil for a task without keys
	return t
}

// first returns the first of vs that is set (not zero).
func first[T comparable](vs ...T) T {
	var zero T
	for _, v := range vs {
		if v != zero {
			return v
		}
	}
	return zero
}

// handlerOptions returns the defaults registered for the name of each of
// rs, reading the names not seen before in one round trip; ErrUnknownName
// (naming the first such request of a batch) for a name never registered.
func (c *Client) handlerOptions(ctx context.Context, rs []Request) ([]HandlerOptions, error) {
	var unseen []string
	c.mu.RLock()
	for i := range rs {
		if _, ok := c.known[rs[i].Name]; !ok && !slices.Contains(unseen, rs[i].Name) {
			unseen = append(unseen, rs[i].Name)
		}
	}
	c.mu.RUnlock()
	if len(unseen) > 0 {
		raws, found, err := c.b.HandlerDefaults(ctx, unseen)
		if err != nil {
			return nil, fmt.Errorf("tasks: look up task names: %w", unavailable(err))
		}
		c.mu.Lock()
		for i, name := range unseen {
			if found[i] {
				var d handlerDefaults
				if json.Unmarshal([]byte(raws[i]), &d) != nil {
					d = handlerDefaults{} // written by another version: the client's defaults apply
				}
				c.known[name] = HandlerOptions(d)
			}
		}
		c.mu.Unlock()
	}
	out := make([]HandlerOptions, len(rs))
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i := range rs {
		opts, ok := c.known[rs[i].Name]
		if !ok {
			err := fmt.Errorf("%w: %q", ErrUnknownName, rs[i].Name)
			if len(rs) > 1 {
				err = fmt.Errorf("tasks[%d]: %w", i, err)
			}
			return nil, err
		}
		out[i] = opts
	}
	return out, nil
}
