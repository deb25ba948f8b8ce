package api_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runq/runq/api"
	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
	"github.com/runq/runq/tasks/builtin"
)

// testMaxWait is the MaxWait of the bundle's app: longer than any deadline a
// test waits for, so a long poll that is not woken by its task finishing is
// caught by the deadline instead of ending quietly at the timeout.
const testMaxWait = 30 * time.Second

// deadline bounds every wait of a test for something that should happen soon.
const deadline = 10 * time.Second

var quiet = slog.New(slog.DiscardHandler)

// bundle is what an API test needs: a worker pool consuming the default
// queue and a result watcher, both running on one backend, and the echo app
// in front of them.
type bundle struct {
	be      redistest.Backend
	broker  *broker.Broker
	reg     *tasks.Registry
	client  *tasks.Client
	watcher *results.Watcher
	app     http.Handler

	calls atomic.Int64 // runs of the "count" handler
	// poolLog is the logger of the pools newPool makes; nil for quiet.
	poolLog *slog.Logger

	mu    sync.Mutex
	gates map[string]*gate
}

// setup starts a pool on the default queue and a watcher on be, stopped at
// cleanup (Run has returned before cleanup ends). The names of the built-in
// handlers and of these test handlers are registered before it returns:
//
//	count  counts its runs in bundle.calls
//	block  waits for the gate named by {"gate": "..."} to open
//	skip   fails with an error wrapping tasks.ErrSkipRetry
//	panic  panics
func setup(t *testing.T, be redistest.Backend) *bundle {
	t.Helper()
	s := setupIdle(t, be)
	s.startPool(t, tasks.DefaultQueue, 8)
	return s
}

// setupIdle is setup without a pool: tasks stay queued until the test starts
// a pool on their queue.
func setupIdle(t testing.TB, be redistest.Backend) *bundle {
	t.Helper()
	s := &bundle{
		be:     be,
		broker: broker.New(be.Client, be.Prefix),
		reg:    tasks.NewRegistry(),
		gates:  make(map[string]*gate),
	}
	builtin.Register(s.reg)
	s.registerTestHandlers()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := s.newPool(tasks.DefaultQueue, 1).Register(ctx); err != nil {
		t.Fatalf("Register() = %v, want nil", err)
	}
	s.client = tasks.NewClient(be.Client, tasks.ClientConfig{Prefix: be.Prefix, Logger: quiet})
	t.Cleanup(func() { _ = s.client.Close() }) // before be's client closes
	s.watcher = results.NewWatcher(s.broker, quiet)
	run(t, "Watcher", s.watcher.Run)
	s.app = s.api(api.Config{MaxWait: testMaxWait, Logger: quiet})
	return s
}

func (s *bundle) registerTestHandlers() {
	s.reg.HandleFunc("count", func(ctx context.Context, t *tasks.Task) (any, error) {
		return map[string]int64{"count": s.calls.Add(1)}, nil
	})
	type blockArgs struct {
		Gate string `json:"gate"`
	}
	tasks.Handle(s.reg, "block", func(ctx context.Context, t *tasks.Task, in blockArgs) (map[string]bool, error) {
		g := s.gate(in.Gate)
		g.startOnce.Do(func() { close(g.started) })
		select {
		case <-g.release:
			return map[string]bool{"released": true}, nil
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	})
	type skipArgs struct {
		Reason string `json:"reason"`
	}
	tasks.Handle(s.reg, "skip", func(ctx context.Context, t *tasks.Task, in skipArgs) (struct{}, error) {
		return struct{}{}, fmt.Errorf("refused: %s: %w", in.Reason, tasks.ErrSkipRetry)
	})
	s.reg.HandleFunc("panic", func(ctx context.Context, t *tasks.Task) (any, error) {
		panic("handler exploded")
	})
	s.reg.HandleFunc("mail", func(ctx context.Context, t *tasks.Task) (any, error) {
		return nil, nil
	}, tasks.HandlerOptions{Rate: "600/m", MaxRunning: 5})
	s.reg.HandleFunc("progress", func(ctx context.Context, t *tasks.Task) (any, error) {
		for _, v := range []float64{0.5, 1} { // apart by more than tasks.ProgressInterval
			if err := t.Progress(ctx, v, map[string]float64{"done": v}); err != nil {
				return nil, err
			}
			time.Sleep(2 * tasks.ProgressInterval)
		}
		return "done", nil
	})
}

// newPool returns a pool of s's handlers on queue.
func (s *bundle) newPool(queue string, concurrency int) *tasks.Pool {
	return tasks.NewPool(s.be.Client, s.reg, tasks.PoolConfig{
		Queues:            []string{queue},
		Concurrency:       concurrency,
		Grace:             200 * time.Millisecond,
		VisibilityTimeout: 5 * time.Second,
		Backoff:           tasks.ExponentialBackoff(5*time.Millisecond, 50*time.Millisecond),
		Prefix:            s.be.Prefix,
		Logger:            cmp.Or(s.poolLog, quiet),
	})
}

// startPool runs a pool of s's handlers on queue until cleanup.
func (s *bundle) startPool(t *testing.T, queue string, concurrency int) {
	t.Helper()
	run(t, "Pool", s.newPool(queue, concurrency).Run)
	t.Cleanup(s.openAll) // runs before the pool stops: gated handlers end first
}

// server serves s.app on a loopback port until the test ends.
func (s *bundle) server(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(s.app)
	t.Cleanup(srv.Close)
	return srv
}

// api returns another app on s's pool, watcher and broker.
func (s *bundle) api(cfg api.Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	return api.New(cfg, s.client, s.watcher, s.broker)
}

// run calls fn in a goroutine until cleanup, which cancels its context and
// waits for it to return.
func run(t testing.TB, name string, fn func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		// A pool stopped while it registers names returns that cancellation.
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("%s.Run() = %v, want nil", name, err)
		}
	})
}

// eachBackend runs test in a parallel subtest per backend, named by it,
// each with its own bundle.
func eachBackend(t *testing.T, test func(t *testing.T, s *bundle)) {
	t.Helper()
	for _, be := range redistest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			test(t, setup(t, be))
		})
	}
}

// gate holds "block" tasks naming it until it opens.
type gate struct {
	started     chan struct{} // closed when a task first waits on the gate
	release     chan struct{}
	startOnce   sync.Once
	releaseOnce sync.Once
}

func (s *bundle) gate(name string) *gate {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.gates[name]
	if g == nil {
		g = &gate{started: make(chan struct{}), release: make(chan struct{})}
		s.gates[name] = g
	}
	return g
}

func (g *gate) open() { g.releaseOnce.Do(func() { close(g.release) }) }

func (s *bundle) openAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.gates {
		g.open()
	}
}

// waitClosed fails t unless ch is closed within the deadline.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(deadline):
		t.Fatalf("timed out after %s waiting for %s", deadline, what)
	}
}

// eventually polls cond until it holds, failing t after the deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(deadline)
	for !cond() {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("timed out after %s waiting for %s", deadline, what)
		}
	}
}

// record is the JSON of a task record, with times kept as text so that their
// format can be checked.
type record struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Queue      string          `json:"queue"`
	Status     string          `json:"status"`
	Payload    json.RawMessage `json:"payload"`
	Result     json.RawMessage `json:"result"`
	Error      string          `json:"error"`
	Attempts   int             `json:"attempts"`
	MaxRetries int             `json:"max_retries"`
	Timeout    string          `json:"timeout"`
	ResultTTL  string          `json:"result_ttl"`
	Crashes    int             `json:"crashes"`
	CreatedAt  *string         `json:"created_at"`
	RunAt      *string         `json:"run_at"`
	StartedAt  *string         `json:"started_at"`
	FinishedAt *string         `json:"finished_at"`
}

// newRequest builds a request; body "" means none.
func newRequest(method, target, contentType, body string) *http.Request {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// post sends body as JSON to POST /v1/tasks of h.
func post(h http.Handler, body string) *httptest.ResponseRecorder {
	return serve(h, newRequest(http.MethodPost, "/v1/tasks", "application/json", body))
}

// submit posts body to s.app and returns the record, failing t unless the
// answer is 202.
func (s *bundle) submit(t *testing.T, body string) record {
	t.Helper()
	rec := post(s.app, body)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("POST /v1/tasks %s = %d %s, want 202", body, rec.Code, rec.Body)
	}
	return decodeRecord(t, rec)
}

// get sends GET target to h and returns the record, failing t unless the
// answer is 200.
func get(t *testing.T, h http.Handler, target string) record {
	t.Helper()
	rec := serve(h, newRequest(http.MethodGet, target, "", ""))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d %s, want 200", target, rec.Code, rec.Body)
	}
	return decodeRecord(t, rec)
}

func decodeRecord(t *testing.T, rec *httptest.ResponseRecorder) record {
	t.Helper()
	checkJSONType(t, rec)
	var r record
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("decoding record %s: %v", rec.Body, err)
	}
	return r
}

func checkJSONType(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	ct := rec.Header().Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		t.Errorf("Content-Type = %q, want application/json (body %s)", ct, rec.Body)
	}
}

// leaks are texts that must not reach a client: Go package prefixes of
// wrapped errors, network details and HTML pages.
var leaks = []string{"redis:", "broker:", "tasks:", "results:", "json:", "dial tcp", "connection refused", "<html", "goroutine "}

// errorOf checks that rec is a JSON error of status want, with a non-empty
// "error" free of internals, and returns the error text.
func errorOf(t *testing.T, rec *httptest.ResponseRecorder, want int) string {
	t.Helper()
	if rec.Code != want {
		t.Errorf("status = %d, want %d (body %s)", rec.Code, want, rec.Body)
	}
	checkJSONType(t, rec)
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q is not a JSON object: %v", rec.Body, err)
	}
	msg, _ := body["error"].(string)
	if msg == "" {
		t.Errorf("error body %s has no non-empty \"error\" string", rec.Body)
	}
	for _, leak := range leaks {
		if strings.Contains(msg, leak) {
			t.Errorf("error %q contains %q: internals leak to clients", msg, leak)
		}
	}
	return msg
}

// keys returns the sorted keys under s's prefix but those a worker's
// heartbeat writes on its own time (the live workers, the known queues,
// each queue's kept counts and throughput): a request leaves its trace in
// the others.
func (s *bundle) keys(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	k := slices.DeleteFunc(redistest.KeysUnder(ctx, t, s.be.Client, s.be.Prefix), func(key string) bool {
		rest := strings.TrimPrefix(key, s.be.Prefix+":")
		return strings.HasPrefix(rest, "{workers}") || rest == "queues" ||
			strings.HasSuffix(rest, "}:kept") || strings.HasSuffix(rest, "}:throughput")
	})
	sort.Strings(k)
	return k
}

// checkKeysUnchanged fails t when the keys under s's prefix differ from before.
func (s *bundle) checkKeysUnchanged(t *testing.T, before []string) {
	t.Helper()
	if after := s.keys(t); !slices.Equal(before, after) {
		t.Errorf("keys after the request = %q, want unchanged %q", after, before)
	}
}

// checkTime parses an RFC 3339 UTC timestamp of field, failing t when it is
// missing or in another format.
func checkTime(t *testing.T, field string, v *string) time.Time {
	t.Helper()
	if v == nil {
		t.Errorf("%s is missing, want an RFC 3339 UTC time", field)
		return time.Time{}
	}
	ts, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil || !strings.HasSuffix(*v, "Z") {
		t.Errorf("%s = %q, want an RFC 3339 time in UTC (ending in Z)", field, *v)
	}
	return ts
}

// jsonEqual reports whether a and b are the same JSON value.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Errorf("invalid JSON %q: %v", a, err)
		return false
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Errorf("invalid JSON %q: %v", b, err)
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}
