package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/runq/runq/api"
	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
	"github.com/runq/runq/tasks/builtin"
)

// testToken is the API token of the server the browser logs in to.
const testToken = "browser-test-token"

var quiet = slog.New(slog.DiscardHandler)

// startServer runs what `runq all --api-token` runs, in process: a pool
// with the built-in handlers (echo, sleep, fail) on the default queue, a
// result watcher, and the HTTP API with the dashboard on a loopback port.
// It returns the server's base URL; everything stops at cleanup.
func startServer(t *testing.T, be redistest.Backend) string {
	t.Helper()
	reg := tasks.NewRegistry()
	builtin.Register(reg)
	pool := tasks.NewPool(be.Client, reg, tasks.PoolConfig{
		Queues:      []string{tasks.DefaultQueue},
		Concurrency: 4,
		BatchWait:   time.Millisecond, // shown on the workers page
		Grace:       200 * time.Millisecond,
		Prefix:      be.Prefix,
		Logger:      quiet,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pool.Register(ctx); err != nil { // names known before the first request
		t.Fatalf("Pool.Register() = %v, want nil", err)
	}
	run(t, "Pool", pool.Run)
	b := broker.New(be.Client, be.Prefix)
	watcher := results.NewWatcher(b, quiet)
	run(t, "Watcher", watcher.Run)

	cfg := api.Config{APIToken: testToken, Logger: quiet}
	client := tasks.NewClient(be.Client, tasks.ClientConfig{Prefix: be.Prefix})
	srv := api.NewHTTPServer(cfg, api.New(cfg, client, watcher, b))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// run calls fn in a goroutine until cleanup, which cancels its context and
// waits for it to return.
func run(t *testing.T, name string, fn func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("%s.Run() = %v, want nil", name, err)
		}
	})
}

// queuePaused reads GET /v1/queues/default from the server at base and
// reports whether the queue is paused.
func queuePaused(t *testing.T, base string) bool {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/v1/queues/default", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /v1/queues/default: %v", err)
	}
	defer resp.Body.Close()
	var q tasks.QueueInfo
	if err := json.NewDecoder(resp.Body).Decode(&q); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/queues/default = %d, %v", resp.StatusCode, err)
	}
	return q.Paused
}
