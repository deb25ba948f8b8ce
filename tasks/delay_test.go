package tasks_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// TestDelayedTaskLifecycle follows a task held back by a delay: scheduled
// until its run_at, queued behind a busy worker once due, then running and
// succeeded, started no earlier than its run_at.
func TestDelayedTaskLifecycle(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.startPool(t, tasks.PoolConfig{Queues: []string{"q"}, Concurrency: 1})
		busy := s.submit(t, tasks.Request{Name: "sleep", Payload: payload(t, map[string]int{"ms": 700}), Options: tasks.Options{Queue: "q"}})
		rec, err := s.client.Submit(context.Background(), tasks.Request{Name: "echo", Payload: json.RawMessage(`"later"`),
			Options: tasks.Options{Queue: "q", Delay: 300 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		if rec.Status != results.StatusScheduled || !rec.RunAt.Equal(rec.CreatedAt.Add(300*time.Millisecond)) {
			t.Fatalf("Submit with a delay = %s run_at %v (created %v); want scheduled, run_at 300ms after creation",
				rec.Status, rec.RunAt, rec.CreatedAt)
		}
		if got := s.get(t, rec.ID); got.Status != results.StatusScheduled || !got.RunAt.Equal(rec.RunAt) {
			t.Fatalf("Get before due = %s run_at %v, want scheduled, run_at %v", got.Status, got.RunAt, rec.RunAt)
		}
		until(t, "the delayed task to be queued behind the busy worker", func() bool {
			return s.get(t, rec.ID).Status == results.StatusQueued
		})
		if st := s.get(t, busy).Status; st != results.StatusRunning {
			t.Fatalf("the worker's first task is %s, want still running: the queued status was not observed behind it", st)
		}
		done := s.wait(t, rec.ID)
		if done.Status != results.StatusSucceeded || string(done.Result) != `"later"` || done.StartedAt.Before(done.RunAt) ||
			!done.RunAt.Equal(rec.RunAt) {
			t.Errorf("delayed task at the end = %+v, want succeeded, started at or after its run_at %v", done, rec.RunAt)
		}
	})
}

// TestEarlierTaskWakesTheMaintainer: with a task scheduled in an hour, a
// pool's maintainer sleeps for its regular second; a task then scheduled
// 250ms ahead must wake it (the "due" event), and run on time. Five in a
// row: a maintainer woken only by its one-second timer would be late by
// up to a second, within the limit for all five about once in 100 runs;
// the limit leaves a slow run (-race, a loaded machine) room.
func TestEarlierTaskWakesTheMaintainer(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.startPool(t, tasks.PoolConfig{Queues: []string{"q"}, Concurrency: 2})
		s.submit(t, tasks.Request{Name: "echo", Options: tasks.Options{Queue: "q", Delay: time.Hour}})
		time.Sleep(100 * time.Millisecond) // the maintainer reads the hour, and sleeps
		for i := range 5 {
			id := s.submit(t, tasks.Request{Name: "echo", Options: tasks.Options{Queue: "q", Delay: 250 * time.Millisecond}})
			rec := s.wait(t, id)
			if late := rec.StartedAt.Sub(rec.RunAt); rec.Status != results.StatusSucceeded || late < 0 || late > 400*time.Millisecond {
				t.Errorf("task %d: %s, started %v after its run_at; want succeeded, within 400ms", i, rec.Status, late)
			}
		}
	})
}

// TestPoolsRacingPromoteEachTaskOnce: three pools maintain the same queue;
// every task of a batch due at one instant runs exactly once.
func TestPoolsRacingPromoteEachTaskOnce(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		var mu sync.Mutex
		runs := make(map[uuid.UUID]int)
		s.reg.HandleFunc("count", func(ctx context.Context, task *tasks.Task) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			runs[task.ID]++
			return nil, nil
		})
		for range 3 {
			s.startPool(t, tasks.PoolConfig{Queues: []string{"q"}, Concurrency: 4})
		}
		at := time.Now().Add(300 * time.Millisecond)
		rs := make([]tasks.Request, 200)
		for i := range rs {
			rs[i] = tasks.Request{Name: "count", Options: tasks.Options{Queue: "q", RunAt: at}}
		}
		recs, err := s.client.SubmitBatch(context.Background(), rs)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if rec := s.wait(t, r.ID); rec.Status != results.StatusSucceeded || rec.Attempts != 1 || rec.StartedAt.Before(rec.RunAt) {
				t.Fatalf("task %s: %s after %d attempts, started %v, run_at %v; want succeeded once, not early",
					r.ID, rec.Status, rec.Attempts, rec.StartedAt, rec.RunAt)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for id, n := range runs {
			if n != 1 {
				t.Errorf("task %s ran %d times, want once", id, n)
			}
		}
		if len(runs) != len(recs) {
			t.Errorf("%d tasks ran, want %d", len(runs), len(recs))
		}
	})
}
