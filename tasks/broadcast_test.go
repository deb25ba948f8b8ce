package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// flushes counts the runs of the broadcast handler "cache.flush" by the
// pool (its index) that ran it.
type flushes struct {
	mu   sync.Mutex
	runs map[int]int
}

func (f *flushes) count(i int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runs[i]
}

// flushPool starts a pool on a Redis client of its own whose registry
// handles "cache.flush" (when named) and "other": its handler counts its
// run, fails when the payload's "fail" is its index, and returns its index.
func flushPool(t testing.TB, s bundle, f *flushes, i int, named bool) *tasks.Pool {
	t.Helper()
	rdb, err := broker.Open(context.Background(), s.be.URL, 8)
	if err != nil {
		t.Fatal(err)
	}
	reg := tasks.NewRegistry()
	reg.HandleFunc("other", func(context.Context, *tasks.Task) (any, error) { return nil, nil })
	if named {
		reg.HandleFunc("cache.flush", func(_ context.Context, tk *tasks.Task) (any, error) {
			f.mu.Lock()
			f.runs[i]++
			f.mu.Unlock()
			var in struct{ Fail int }
			_ = json.Unmarshal(tk.Payload, &in)
			if in.Fail == i {
				return nil, fmt.Errorf("boom on pool %d", i)
			}
			return i, nil
		})
	}
	p := tasks.NewPool(rdb, reg, tasks.PoolConfig{Prefix: s.be.Prefix, Logger: quiet(), Grace: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = rdb.Close()
	})
	return p
}

// untilLive waits until the workers list holds n live workers.
func untilLive(t testing.TB, s bundle, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ws, err := s.b.Workers(context.Background(), tasks.WorkerTimeout)
		if err == nil && len(ws) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Workers = %d, %v; want %d live", len(ws), err, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBroadcastRunsOnEveryRegisteredWorker is the claim of broadcast tasks
// on real Redis and miniredis: three pools (Redis clients of their own)
// that registered the name run a broadcast task once each, a fourth that
// did not is no target, and the record, returned by Wait, holds the three
// answers by worker ID. A pool started after the submission does not run
// it. A target that dies before running it (a worker that only reports
// itself, then leaves the list as a killed one's heartbeat lapses) is
// reported missing, and a handler's error is its worker's answer.
func TestBroadcastRunsOnEveryRegisteredWorker(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ctx := context.Background()
		f := &flushes{runs: map[int]int{}}
		var pools []*tasks.Pool
		for i := range 3 {
			pools = append(pools, flushPool(t, s, f, i, true))
		}
		flushPool(t, s, f, 3, false)
		untilLive(t, s, 4)

		rec, err := s.client.Submit(ctx, tasks.Request{Name: "cache.flush", Payload: json.RawMessage(`{"fail":-1}`), Broadcast: true})
		if err != nil {
			t.Fatalf("Submit(broadcast) = %v", err)
		}
		if rec.Broadcast == nil || rec.Broadcast.Targets != 3 {
			t.Fatalf("Submit(broadcast).Broadcast = %+v, want 3 targets", rec.Broadcast)
		}
		late := flushPool(t, s, f, 4, true)
		got := s.wait(t, rec.ID)
		if got.Status != results.StatusSucceeded || got.Broadcast == nil || len(got.Broadcast.Workers) != 3 {
			t.Fatalf("Wait(%s) = %+v, want succeeded with 3 answers", rec.ID, got)
		}
		for i, p := range pools {
			a, ok := got.Broadcast.Workers[p.ID()]
			if !ok || a.Status != results.WorkerSucceeded || string(a.Result) != fmt.Sprint(i) || a.FinishedAt.IsZero() {
				t.Errorf("answer of pool %d (%s) = %+v, %v; want succeeded with result %d", i, p.ID(), a, ok, i)
			}
			if n := f.count(i); n != 1 {
				t.Errorf("runs on pool %d = %d, want 1", i, n)
			}
		}
		untilLive(t, s, 5)
		if _, ok := got.Broadcast.Workers[late.ID()]; ok || f.count(4) != 0 {
			t.Errorf("the pool started after the submission is a target or ran it (%d runs)", f.count(4))
		}

		// A target that dies: it reported itself with the name, and never
		// looks at its inbox.
		ghost := tasks.WorkerInfo{ID: "ghost", Queues: []string{"default"}, Handlers: []string{"cache.flush"}}
		info, _ := json.Marshal(ghost)
		if err := s.b.Beat(ctx, broker.Heartbeat{ID: ghost.ID, Info: info, Timeout: tasks.WorkerTimeout}); err != nil {
			t.Fatal(err)
		}
		rec, err = s.client.Submit(ctx, tasks.Request{Name: "cache.flush", Payload: json.RawMessage(`{"fail":1}`), Broadcast: true})
		if err != nil || rec.Broadcast.Targets != 5 {
			t.Fatalf("Submit(broadcast) = %+v, %v; want 5 targets (4 pools and the ghost)", rec.Broadcast, err)
		}
		if err := s.b.Leave(ctx, ghost.ID, tasks.WorkerTimeout); err != nil {
			t.Fatal(err)
		}
		got = s.wait(t, rec.ID)
		if want := "2 of 5 workers did not succeed: 1 failed, 1 missing"; got.Status != results.StatusFailed || got.Error != want {
			t.Errorf("Wait(%s) = %s, %q; want failed, %q", rec.ID, got.Status, got.Error, want)
		}
		w := got.Broadcast.Workers
		if a := w["ghost"]; a.Status != results.WorkerMissing || !strings.Contains(a.Error, "stopped reporting") {
			t.Errorf("answer of the dead target = %+v, want missing", a)
		}
		if a := w[pools[1].ID()]; a.Status != results.WorkerFailed || !strings.Contains(a.Error, "boom on pool 1") {
			t.Errorf("answer of the failing pool = %+v, want failed with its error", a)
		}
		if a := w[late.ID()]; a.Status != results.WorkerSucceeded || f.count(4) != 1 {
			t.Errorf("answer of the pool started before the second submission = %+v, %d runs; want succeeded once", a, f.count(4))
		}
		if _, err := tasks.Result[int](got); !errors.Is(err, tasks.ErrFailed) {
			t.Errorf("Result of the failed broadcast = %v, want ErrFailed", err)
		}
	})
}

// TestBroadcastRefusals: no live worker handles the name in the queue,
// a delay, or a batch.
func TestBroadcastRefusals(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.register(t) // names known, but no worker is live
		ctx := context.Background()
		for _, c := range []struct {
			rs   []tasks.Request
			want error
		}{
			{[]tasks.Request{{Name: "echo", Broadcast: true}}, tasks.ErrNoWorkers},
			{[]tasks.Request{{Name: "echo", Broadcast: true, Options: tasks.Options{Delay: time.Second}}}, tasks.ErrInvalid},
			{[]tasks.Request{{Name: "echo", Broadcast: true, CallbackURL: "https://example.com/hook"}}, tasks.ErrInvalid},
			{[]tasks.Request{{Name: "echo", Broadcast: true}, {Name: "echo"}}, tasks.ErrInvalid},
		} {
			if _, err := s.client.SubmitBatch(ctx, c.rs); !errors.Is(err, c.want) {
				t.Errorf("SubmitBatch(%+v) = %v, want %v", c.rs, err, c.want)
			}
		}
	})
}

// TestBroadcastAnswersOfOneWorker: a handler's panic and its timeout are
// its worker's failed answers; a worker that stops with a broadcast task
// still in its inbox (its one slot busy) answers missing as it stops.
func TestBroadcastAnswersOfOneWorker(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		release := make(chan struct{})
		s.reg.HandleFunc("bc.panic", func(context.Context, *tasks.Task) (any, error) { panic("exploded") })
		s.reg.HandleFunc("bc.wait", func(ctx context.Context, _ *tasks.Task) (any, error) {
			select {
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			case <-release:
				return nil, nil
			}
		})
		p, stop := s.startPool(t, tasks.PoolConfig{Concurrency: 1, Grace: 100 * time.Millisecond})
		defer close(release)
		untilLive(t, s, 1)
		for _, c := range []struct {
			r    tasks.Request
			want string
		}{
			{tasks.Request{Name: "bc.panic", Broadcast: true}, "panic: exploded"},
			{tasks.Request{Name: "bc.wait", Broadcast: true, Options: tasks.Options{Timeout: 50 * time.Millisecond}}, "timed out after 50ms"},
		} {
			rec := s.wait(t, s.submit(t, c.r))
			a := rec.Broadcast.Workers[p.ID()]
			if rec.Status != results.StatusFailed || a.Status != results.WorkerFailed || !strings.Contains(a.Error, c.want) {
				t.Errorf("%s: record %s, answer %+v; want failed with %q", c.r.Name, rec.Status, a, c.want)
			}
		}

		busy := s.submit(t, tasks.Request{Name: "bc.wait"}) // holds the one slot
		s.untilRunning(t, busy)
		id := s.submit(t, tasks.Request{Name: "echo", Broadcast: true})
		stop()
		rec := s.get(t, id)
		a := rec.Broadcast.Workers[p.ID()]
		if rec.Status != results.StatusFailed || a.Status != results.WorkerMissing || a.Error != "worker stopped before it ran the task" {
			t.Errorf("after the stop: record %s, answer %+v; want failed, missing", rec.Status, a)
		}
	})
}
