package metrics_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runq/runq/api"
	"github.com/runq/runq/api/metrics"
	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
	"github.com/runq/runq/tasks/builtin"
)

var quiet = slog.New(slog.DiscardHandler)

// bundle is one backend with the built-in handlers registered, a client
// and a watcher, and a fresh metrics registry.
type bundle struct {
	be      redistest.Backend
	broker  *broker.Broker
	reg     *tasks.Registry
	client  *tasks.Client
	watcher *results.Watcher
	metrics *metrics.Registry
}

// setup returns a bundle per backend (miniredis, and real Redis when
// REDIS_URL is set), the handler names registered in Redis.
func setup(t *testing.T) []*bundle {
	t.Helper()
	var out []*bundle
	for _, be := range redistest.Backends(t) {
		s := &bundle{be: be, broker: broker.New(be.Client, be.Prefix), reg: tasks.NewRegistry(), metrics: metrics.NewRegistry(quiet)}
		builtin.Register(s.reg)
		if err := s.pool(tasks.PoolConfig{}).Register(context.Background()); err != nil {
			t.Fatalf("Register() = %v, want nil", err)
		}
		s.client = tasks.NewClient(be.Client, tasks.ClientConfig{Prefix: be.Prefix, Logger: quiet})
		t.Cleanup(func() { _ = s.client.Close() })
		s.watcher = results.NewWatcher(s.broker, quiet)
		run(t, s.watcher.Run)
		out = append(out, s)
	}
	return out
}

// each runs fn as a parallel subtest per backend.
func each(t *testing.T, fn func(t *testing.T, s *bundle)) {
	t.Helper()
	t.Parallel()
	for _, s := range setup(t) {
		t.Run(s.be.Name, func(t *testing.T) { fn(t, s) })
	}
}

// pool returns a pool of s's handlers, with a short backoff.
func (s *bundle) pool(cfg tasks.PoolConfig) *tasks.Pool {
	cfg.Prefix, cfg.Logger = s.be.Prefix, quiet
	cfg.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	return tasks.NewPool(s.be.Client, s.reg, cfg)
}

// apiServer serves the API with metrics m (and token, if any) until
// cleanup.
func (s *bundle) apiServer(t *testing.T, m api.Metrics, token string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(api.New(api.Config{Metrics: m, APIToken: token, Logger: quiet}, s.client, s.watcher, s.broker))
	t.Cleanup(srv.Close)
	return srv
}

// run calls fn in a goroutine until cleanup, which cancels its context
// and waits for it to return.
func run(t testing.TB, fn func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = fn(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// do sends a request with body (a JSON string, or "") and the bearer
// token (if any), and returns the status and body.
func do(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// scrape reads a /metrics page into its samples, keyed by name and labels
// as written (`runq_tasks_started_total{name="echo",queue="default"}`).
func scrape(t *testing.T, url, token string) map[string]float64 {
	t.Helper()
	status, body := do(t, http.MethodGet, url, token, "")
	if status != http.StatusOK {
		t.Fatalf("GET %s = %d %s, want 200", url, status, body)
	}
	return parse(t, body)
}

// parse reads Prometheus's text format: one "series value" per line.
func parse(t *testing.T, body string) map[string]float64 {
	t.Helper()
	out := make(map[string]float64)
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// want checks that got holds each sample of want with its value.
func want(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("sample %s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}
