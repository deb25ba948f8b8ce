package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

// ClientConfig holds the defaults a Client applies to requests that leave an
// option out and whose handler sets none.
type ClientConfig struct {
	Queue      string        // "" means "default"
	MaxRetries int           // 0 means 3; NoRetries means none
	Timeout    time.Duration // per attempt; 0 means 30m
	ResultTTL  time.Duration // how long a finished task is kept; 0 means 24h
}

// Defaults of ClientConfig.
const (
	DefaultQueue      = "default"
	DefaultMaxRetries = 3
	DefaultTimeout    = 30 * time.Minute
	DefaultResultTTL  = 24 * time.Hour
)

func (c ClientConfig) withDefaults() ClientConfig {
	if c.Queue == "" {
		c.Queue = DefaultQueue
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ResultTTL == 0 {
		c.ResultTTL = DefaultResultTTL
	}
	return c
}

// Client submits and cancels tasks. It refuses names that no worker has
// registered, reading the names workers record in Redis (cached once seen).
type Client struct {
	b   *broker.Broker
	cfg ClientConfig

	mu    sync.RWMutex
	known map[string]HandlerOptions // names seen registered, with defaults
}

// NewClient returns a Client that queues through b.
func NewClient(b *broker.Broker, cfg ClientConfig) *Client {
	return &Client{b: b, cfg: cfg.withDefaults(), known: make(map[string]HandlerOptions)}
}

// Submit validates r, fills in defaults, queues the task and returns its
// record (status queued). Errors: ErrInvalid (or broker.ErrBadQueue) for a
// bad request, ErrUnknownName for a name no worker handles; nothing is
// written to Redis in either case.
func (c *Client) Submit(ctx context.Context, r Request) (results.Record, error) {
	if err := r.Validate(); err != nil {
		return results.Record{}, err
	}
	opts, err := c.handlerOptions(ctx, r.Name)
	if err != nil {
		return results.Record{}, err
	}
	t := c.resolve(r, opts)
	id, err := broker.NewID(t.Queue)
	if err != nil {
		return results.Record{}, err
	}
	t.ID = id
	created, err := c.b.Enqueue(ctx, t)
	if err != nil {
		return results.Record{}, fmt.Errorf("tasks: submit %s: %w", r.Name, err)
	}
	return queuedRecord(t, created), nil
}

// MaxBatch is the most tasks one SubmitBatch takes.
const MaxBatch = 1000

// SubmitBatch validates every request first and queues none unless all are
// valid (the error names the first bad one by index); then it queues them in
// one round trip, one script call per queue. Each queue's tasks are queued
// atomically; across queues, a Redis failure midway can leave some queued,
// and the error says so.
func (c *Client) SubmitBatch(ctx context.Context, rs []Request) ([]results.Record, error) {
	if len(rs) == 0 || len(rs) > MaxBatch {
		return nil, fmt.Errorf("%w: a batch holds 1 to %d tasks, not %d", ErrInvalid, MaxBatch, len(rs))
	}
	ts := make([]broker.NewTask, len(rs))
	for i, r := range rs {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("tasks[%d]: %w", i, err)
		}
		opts, err := c.handlerOptions(ctx, r.Name)
		if err != nil {
			return nil, fmt.Errorf("tasks[%d]: %w", i, err)
		}
		ts[i] = c.resolve(r, opts)
		if ts[i].ID, err = broker.NewID(ts[i].Queue); err != nil {
			return nil, err
		}
	}
	created, err := c.b.EnqueueBatch(ctx, ts)
	if err != nil {
		return nil, fmt.Errorf("tasks: submit batch of %d: %w", len(rs), err)
	}
	out := make([]results.Record, len(ts))
	for i, t := range ts {
		out[i] = queuedRecord(t, created[i])
	}
	return out, nil
}

// queuedRecord is the record of t just queued.
func queuedRecord(t broker.NewTask, created time.Time) results.Record {
	return results.Record{
		ID: t.ID, Name: t.Name, Queue: t.Queue, Status: results.StatusQueued,
		Payload: t.Payload, MaxRetries: t.MaxRetries,
		Timeout: results.Duration(t.Timeout), ResultTTL: results.Duration(t.ResultTTL),
		CreatedAt: created,
	}
}

// resolve builds the stored task from r, the handler's options and the
// client's defaults, in that order of precedence.
func (c *Client) resolve(r Request, opts HandlerOptions) broker.NewTask {
	t := broker.NewTask{
		Name:       r.Name,
		Queue:      r.Queue,
		Payload:    r.Payload,
		MaxRetries: c.cfg.MaxRetries,
		Timeout:    time.Duration(r.Timeout),
		ResultTTL:  time.Duration(r.ResultTTL),
	}
	if t.Queue == "" {
		t.Queue = c.cfg.Queue
	}
	if len(t.Payload) == 0 {
		t.Payload = json.RawMessage("null")
	}
	switch {
	case r.MaxRetries != nil:
		t.MaxRetries = *r.MaxRetries
	case opts.MaxRetries != 0:
		t.MaxRetries = opts.MaxRetries
	}
	if t.MaxRetries < 0 {
		t.MaxRetries = 0
	}
	if t.Timeout == 0 {
		t.Timeout = opts.Timeout
	}
	if t.Timeout == 0 {
		t.Timeout = c.cfg.Timeout
	}
	if t.ResultTTL == 0 {
		t.ResultTTL = c.cfg.ResultTTL
	}
	return t
}

// handlerOptions returns the defaults registered for name, or ErrUnknownName.
func (c *Client) handlerOptions(ctx context.Context, name string) (HandlerOptions, error) {
	c.mu.RLock()
	opts, ok := c.known[name]
	c.mu.RUnlock()
	if ok {
		return opts, nil
	}
	raw, ok, err := c.b.HandlerDefaults(ctx, name)
	if err != nil {
		return HandlerOptions{}, err
	}
	if !ok {
		return HandlerOptions{}, fmt.Errorf("%w: %q", ErrUnknownName, name)
	}
	if err := json.Unmarshal([]byte(raw), &opts); err != nil {
		opts = HandlerOptions{} // written by another version: use the client's defaults
	}
	c.mu.Lock()
	c.known[name] = opts
	c.mu.Unlock()
	return opts, nil
}

// Cancel cancels task id if it has not started. Errors: results.ErrNotFound,
// ErrRunning, ErrFinished.
func (c *Client) Cancel(ctx context.Context, id uuid.UUID) error {
	status, err := c.b.Cancel(ctx, id)
	switch {
	case errors.Is(err, broker.ErrNotFound):
		return fmt.Errorf("tasks: cancel %s: %w", id, results.ErrNotFound)
	case err != nil:
		return err
	}
	switch results.Status(status) {
	case results.StatusCanceled:
		return nil
	case results.StatusRunning:
		return fmt.Errorf("tasks: cancel %s: %w", id, ErrRunning)
	default:
		return fmt.Errorf("tasks: cancel %s: %w (%s)", id, ErrFinished, status)
	}
}

// RegisterNames records every name in reg, with its defaults, in Redis, so
// that Clients in any process accept them. Pool.Run calls it at start.
func RegisterNames(ctx context.Context, b *broker.Broker, reg *Registry) error {
	defaults := make(map[string]string)
	for _, name := range reg.Names() {
		h, _ := reg.lookup(name)
		raw, err := json.Marshal(h.opts)
		if err != nil {
			return fmt.Errorf("tasks: encode defaults of %s: %w", name, err)
		}
		defaults[name] = string(raw)
	}
	if err := b.RegisterHandlers(ctx, defaults); err != nil {
		return fmt.Errorf("tasks: register handler names: %w", err)
	}
	return nil
}
