package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/runq/runq/api/metrics"
	"github.com/runq/runq/tasks"
)

// TestWorkerCounts runs tasks that succeed, fail, and fail once before
// succeeding on a pool with the worker metrics, and checks every counter
// and histogram count exactly.
func TestWorkerCounts(t *testing.T) {
	each(t, func(t *testing.T, s *bundle) {
		var mu sync.Mutex
		failed := make(map[string]bool)
		s.reg.HandleFunc("flaky", func(ctx context.Context, tk *tasks.Task) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			if !failed[tk.ID.String()] {
				failed[tk.ID.String()] = true
				return nil, errors.New("first attempt fails")
			}
			return "ok", nil
		})
		run(t, s.pool(tasks.PoolConfig{Observer: metrics.NewWorker(s.metrics), Queues: []string{"default", "q2"}}).Run)
		reqs := []tasks.Request{
			{Name: "echo", Payload: json.RawMessage(`1`)},
			{Name: "echo", Payload: json.RawMessage(`2`)},
			{Name: "echo", Payload: json.RawMessage(`3`), Options: tasks.Options{Queue: "q2"}},
			{Name: "fail"},
			{Name: "flaky", Options: tasks.Options{MaxRetries: 2}},
		}
		for _, r := range reqs {
			rec, err := s.client.Submit(context.Background(), r)
			if err != nil {
				t.Fatalf("Submit(%+v) = %v", r, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			rec, err = s.client.Wait(ctx, rec.ID)
			cancel()
			if err != nil || !rec.Status.Terminal() {
				t.Fatalf("Wait(%s) = %s, %v; want it finished", rec.ID, rec.Status, err)
			}
		}
		srv := httptest.NewServer(s.metrics.Handler())
		t.Cleanup(srv.Close)
		got := scrape(t, srv.URL, "")
		want(t, got, map[string]float64{
			`runq_tasks_started_total{name="echo",queue="default"}`:                      2,
			`runq_tasks_started_total{name="echo",queue="q2"}`:                           1,
			`runq_tasks_started_total{name="fail",queue="default"}`:                      1,
			`runq_tasks_started_total{name="flaky",queue="default"}`:                     2,
			`runq_tasks_succeeded_total{name="echo",queue="default"}`:                    2,
			`runq_tasks_succeeded_total{name="echo",queue="q2"}`:                         1,
			`runq_tasks_succeeded_total{name="flaky",queue="default"}`:                   1,
			`runq_tasks_failed_total{name="fail",queue="default"}`:                       1,
			`runq_tasks_retried_total{name="flaky",queue="default"}`:                     1,
			`runq_tasks_running{queue="default"}`:                                        0,
			`runq_tasks_running{queue="q2"}`:                                             0,
			`runq_task_queue_wait_seconds_count{name="echo",queue="default"}`:            2,
			`runq_task_queue_wait_seconds_count{name="flaky",queue="default"}`:           2,
			`runq_task_run_seconds_count{name="echo",queue="q2"}`:                        1,
			`runq_task_run_seconds_count{name="flaky",queue="default"}`:                  2,
			`runq_task_run_seconds_bucket{name="fail",queue="default",le="3600"}`:        1,
			`runq_task_run_seconds_bucket{name="flaky",queue="default",le="+Inf"}`:       2,
			`runq_task_queue_wait_seconds_bucket{name="fail",queue="default",le="+Inf"}`: 1,
		})
		for _, k := range []string{
			`runq_tasks_failed_total{name="echo",queue="default"}`,
			`runq_tasks_retried_total{name="echo",queue="default"}`,
		} {
			if v := got[k]; v != 0 {
				t.Errorf("%s = %v, want 0", k, v)
			}
		}
	})
}

// TestWorkerServer serves a worker's routes: /metrics, /healthz, and
// /readyz, ready on a Redis that answers and 503 with the reason on one
// that does not; Serve stops when its context ends.
func TestWorkerServer(t *testing.T) {
	each(t, func(t *testing.T, s *bundle) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- metrics.Serve(ctx, ln, metrics.Handler(s.metrics, s.broker), quiet) }()
		base := "http://" + ln.Addr().String()
		for path, want := range map[string]string{"/healthz": `{"status":"ok"}`, "/readyz": `{"status":"ready"}`} {
			if status, body := do(t, http.MethodGet, base+path, "", ""); status != http.StatusOK || body != want+"\n" {
				t.Errorf("GET %s = %d %q, want 200 %s", path, status, body, want)
			}
		}
		if _, ok := scrape(t, base+"/metrics", "")["go_goroutines"]; !ok {
			t.Error("worker /metrics has no go_goroutines")
		}
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve after its context ended = %v, want nil", err)
		}

		down := httptest.NewServer(metrics.Handler(s.metrics, notReady{}))
		t.Cleanup(down.Close)
		status, body := do(t, http.MethodGet, down.URL+"/readyz", "", "")
		if status != http.StatusServiceUnavailable || body != `{"error":"Redis refuses runq's writes","status":"unavailable"}`+"\n" {
			t.Errorf("GET /readyz on a failing Redis = %d %q, want 503 unavailable", status, body)
		}
	})
}

type notReady struct{}

func (notReady) Ready(context.Context) error { return errors.New("some failure") }

// fakeQueues answers Queues with its fields.
type fakeQueues struct {
	qs  []tasks.QueueInfo
	err error
}

func (f fakeQueues) Queues(context.Context) ([]tasks.QueueInfo, error) { return f.qs, f.err }

// TestQueueGauges reads the queue gauges at scrape time; a failed read
// leaves them out and counts the error, and the scrape still succeeds.
func TestQueueGauges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		q    fakeQueues
		want map[string]float64
		gone string
	}{
		{q: fakeQueues{qs: []tasks.QueueInfo{
			{Name: "default", Queued: 7, OldestQueued: 1500 * time.Millisecond},
			{Name: "q2"},
		}}, want: map[string]float64{
			`runq_queue_depth{queue="default"}`:              7,
			`runq_queue_oldest_age_seconds{queue="default"}`: 1.5,
			`runq_queue_depth{queue="q2"}`:                   0,
			`runq_queue_scrape_errors_total`:                 0,
		}},
		{q: fakeQueues{qs: []tasks.QueueInfo{{Name: "default", Queued: 7}}, err: errors.New("redis down")},
			want: map[string]float64{`runq_queue_scrape_errors_total`: 1},
			gone: `runq_queue_depth{queue="default"}`},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			r := metrics.NewRegistry(quiet)
			srv := httptest.NewServer(metrics.NewAPI(r, tt.q).Handler())
			t.Cleanup(srv.Close)
			got := scrape(t, srv.URL, "")
			want(t, got, tt.want)
			if _, ok := got[tt.gone]; tt.gone != "" && ok {
				t.Errorf("%s present after a failed read", tt.gone)
			}
			if _, ok := got["go_goroutines"]; !ok {
				t.Error("scrape lost the Go collector")
			}
		})
	}
}
