package tasks_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
	"github.com/runq/runq/tasks/builtin"
)

// bundle is what each test needs, on one backend.
type bundle struct {
	be     redistest.Backend
	b      *broker.Broker // for what a worker does that a test plays by hand
	reg    *tasks.Registry
	client *tasks.Client
}

// setup returns one bundle per backend, each with a registry holding the
// built-in handlers.
func setup(t *testing.T) []bundle {
	t.Helper()
	var out []bundle
	for _, be := range redistest.Backends(t) {
		s := bundle{be: be, b: broker.New(be.Client, be.Prefix), reg: tasks.NewRegistry()}
		builtin.Register(s.reg)
		s.client = tasks.NewClient(be.Client, tasks.ClientConfig{ResultTTL: time.Hour, Prefix: be.Prefix, Logger: quiet()})
		t.Cleanup(func() { _ = s.client.Close() })
		out = append(out, s)
	}
	return out
}

// register records the registry's names in Redis, as a pool does at
// start, for tests that submit before any pool runs.
func (s bundle) register(t *testing.T) {
	t.Helper()
	if err := tasks.NewPool(s.be.Client, s.reg, tasks.PoolConfig{Prefix: s.be.Prefix}).Register(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// pool returns a pool of s's registry on its backend; cfg's prefix is set.
func (s bundle) pool(cfg tasks.PoolConfig) *tasks.Pool {
	cfg.Prefix = s.be.Prefix
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	return tasks.NewPool(s.be.Client, s.reg, cfg)
}

// each runs fn as a parallel subtest per backend.
func each(t *testing.T, fn func(t *testing.T, s bundle)) {
	t.Helper()
	t.Parallel()
	for _, s := range setup(t) {
		t.Run(s.be.Name, func(t *testing.T) { fn(t, s) })
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startPool runs a pool until the test ends; stop stops it early and waits.
func (s bundle) startPool(t *testing.T, cfg tasks.PoolConfig) (p *tasks.Pool, stop func()) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	if cfg.Backoff == nil {
		cfg.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	}
	return s.run(t, s.pool(cfg))
}

// startHookedPool runs a pool as startPool does (without its short retry
// backoff), on a Redis client of its own that carries hook, so that a test
// sees what the pool alone sends.
func (s bundle) startHookedPool(t *testing.T, hook redis.Hook, cfg tasks.PoolConfig) (p *tasks.Pool, stop func()) {
	t.Helper()
	rdb := redis.NewClient(s.be.Client.Options())
	rdb.AddHook(hook)
	t.Cleanup(func() { _ = rdb.Close() }) // after stop: cleanups run last in, first out
	cfg.Prefix = s.be.Prefix
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	return s.run(t, tasks.NewPool(rdb, s.reg, cfg))
}

// run registers p and runs it until the test ends; stop stops it early
// and waits.
func (s bundle) run(t *testing.T, p *tasks.Pool) (*tasks.Pool, func()) {
	t.Helper()
	if err := p.Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Pool.Run = %v, want nil", err)
		}
	}
	t.Cleanup(stop)
	return p, stop
}

func (s bundle) submit(t *testing.T, r tasks.Request) uuid.UUID {
	t.Helper()
	rec, err := s.client.Submit(context.Background(), r)
	if err != nil {
		t.Fatalf("Submit(%+v): %v", r, err)
	}
	return rec.ID
}

// wait returns the record of id once terminal, failing after 10s.
func (s bundle) wait(t *testing.T, id uuid.UUID) results.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec, err := s.client.Wait(ctx, id)
	if err != nil {
		t.Fatalf("Wait(%s): %v (record %+v)", id, err, rec)
	}
	return rec
}

// get returns the record of id, failing the test if it cannot.
func (s bundle) get(t *testing.T, id uuid.UUID) results.Record {
	t.Helper()
	rec, err := s.client.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return rec
}

// claim takes one task of queue and starts it, as a worker does, under a
// lease of lease.
func (s bundle) claim(t *testing.T, queue string, lease time.Duration) broker.Claimed {
	t.Helper()
	ctx := context.Background()
	_, taken, err := s.b.Take(ctx, queue, 1, lease, "")
	if err != nil || taken == nil {
		t.Fatalf("Take = %v, %v; want a task", taken, err)
	}
	got, _, err := s.b.StartTake(ctx, taken, 0, lease)
	if err != nil || len(got) != 1 {
		t.Fatalf("StartTake = %d tasks, %v; want 1", len(got), err)
	}
	return got[0]
}

// finish records one outcome through the broker, as a worker would.
func (s bundle) finish(f broker.Finish) error {
	res, err := s.b.Finish(context.Background(), []broker.Finish{f})
	if err != nil {
		return err
	}
	return res[0]
}

func payload(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// until polls cond every 10ms for up to 10s.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustParse(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// untilRunning waits until task id is running, failing after 10s.
func (s bundle) untilRunning(t *testing.T, id uuid.UUID) {
	t.Helper()
	until(t, "the task to start", func() bool {
		rec, _ := s.client.Get(context.Background(), id)
		return rec.Status == results.StatusRunning
	})
}
