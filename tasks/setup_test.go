package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// bundle is what each test needs, on one backend.
type bundle struct {
	be      redistest.Backend
	b       *broker.Broker
	reg     *tasks.Registry
	client  *tasks.Client
	store   *results.Store
	watcher *results.Watcher
}

// setup returns one bundle per backend, each with a registry holding the
// built-in handlers and a running Watcher.
func setup(t *testing.T) []bundle {
	t.Helper()
	var out []bundle
	for _, be := range redistest.Backends(t) {
		s := bundle{be: be, b: broker.New(be.Client, be.Keys), reg: tasks.NewRegistry()}
		tasks.RegisterBuiltins(s.reg)
		s.client = tasks.NewClient(s.b, tasks.ClientConfig{ResultTTL: time.Hour})
		s.store = results.NewStore(be.Client, be.Keys)
		s.watcher = results.NewWatcher(s.store, quiet())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = s.watcher.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		out = append(out, s)
	}
	return out
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
	p = tasks.NewPool(s.b, s.reg, cfg)
	if err := tasks.RegisterNames(context.Background(), s.b, s.reg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stopped := false
	stop = func() {
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
	rec, err := s.watcher.Wait(context.Background(), id, 10*time.Second)
	if err != nil {
		t.Fatalf("Wait(%s): %v", id, err)
	}
	if !rec.Status.Terminal() {
		t.Fatalf("Wait(%s): still %s after 10s: %+v", id, rec.Status, rec)
	}
	return rec
}

func intp(n int) *int { return &n }

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

var errBoom = errors.New("boom")

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
		rec, _ := s.store.Get(context.Background(), id)
		return rec.Status == results.StatusRunning
	})
}
