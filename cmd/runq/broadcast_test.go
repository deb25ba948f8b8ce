package main

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/cmd/internal/proctest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// TestBroadcastAcrossWorkerProcesses runs four `runq worker` processes on
// real Redis (a private prefix). A broadcast echo runs once on each, with
// four answers by worker ID. Then, with the fourth busy (its one slot
// held by a long task) and the third killed (SIGKILL), a second broadcast
// targets all four again (the killed one's heartbeat has not lapsed yet):
// the fourth, stopped with SIGTERM before it could run it, answers missing
// as it stops, the killed one is reported missing once its heartbeat
// lapses (WorkerTimeout), and the task ends failed with two answers.
func TestBroadcastAcrossWorkerProcesses(t *testing.T) {
	t.Parallel()
	be, ok := redistest.Real(t)
	if !ok {
		t.Skip("needs a real Redis (REDIS_URL)")
	}
	bin := runqBin.Path(t)
	queues := []string{"default", "default", "default,killed", "default,busy"}
	procs := make([]*proctest.Proc, len(queues))
	for i, q := range queues {
		args := []string{"worker", "--redis", be.URL, "--prefix", be.Prefix, "--grace", "1s", "--queues", q}
		if i == 3 {
			args = append(args, "--concurrency", "1")
		}
		procs[i] = proctest.Start(t, bin, args...)
	}
	for _, p := range procs {
		p.WaitFor(t, p.Stderr, regexp.MustCompile(`msg="worker pool started"`), 30*time.Second)
	}
	c := tasks.NewClient(be.Client, tasks.ClientConfig{Prefix: be.Prefix})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	ids := liveWorkers(t, c, len(queues))

	rec, err := c.Submit(ctx, tasks.Request{Name: "echo", Payload: json.RawMessage(`"hi"`), Broadcast: true})
	if err != nil {
		t.Fatal(err)
	}
	done := waitBroadcast(t, c, rec, 30*time.Second)
	if done.Status != results.StatusSucceeded || len(done.Broadcast.Workers) != 4 {
		t.Fatalf("broadcast = %s with %d answers, want succeeded with 4", done.Status, len(done.Broadcast.Workers))
	}
	for id, a := range done.Broadcast.Workers {
		if !slices.Contains(ids, id) || a.Status != results.WorkerSucceeded || string(a.Result) != `"hi"` {
			t.Errorf("answer of %s = %+v, want succeeded with \"hi\" from a live worker", id, a)
		}
	}

	sleep, err := c.Submit(ctx, tasks.Request{Name: "sleep", Payload: json.RawMessage(`{"ms":60000}`), Options: tasks.Options{Queue: "busy"}})
	if err != nil {
		t.Fatal(err)
	}
	until(t, "the long task to hold the busy worker's slot", func() bool {
		r, err := c.Get(ctx, sleep.ID)
		return err == nil && r.Status == results.StatusRunning
	})
	procs[2].Signal(t, syscall.SIGKILL)
	rec, err = c.Submit(ctx, tasks.Request{Name: "echo", Payload: json.RawMessage(`"again"`), Broadcast: true})
	if err != nil || rec.Broadcast.Targets != 4 {
		t.Fatalf("Submit(broadcast) = %+v, %v; want 4 targets", rec.Broadcast, err)
	}
	procs[3].Signal(t, syscall.SIGTERM)
	done = waitBroadcast(t, c, rec, tasks.WorkerTimeout+30*time.Second)
	if want := "2 of 4 workers did not succeed: 0 failed, 2 missing"; done.Status != results.StatusFailed || done.Error != want {
		t.Fatalf("broadcast = %s, %q; want failed, %q", done.Status, done.Error, want)
	}
	whys := map[string]bool{}
	for _, a := range done.Broadcast.Workers {
		if a.Status == results.WorkerMissing {
			whys[a.Error] = true
		}
	}
	if !whys["worker stopped before it ran the task"] || !whys["the worker stopped reporting before it answered (lease lapsed)"] {
		t.Errorf("missing answers say %v; want one for the stopped worker and one for the killed", whys)
	}
}

// liveWorkers waits until c sees n live workers and returns their IDs.
func liveWorkers(t *testing.T, c *tasks.Client, n int) []string {
	t.Helper()
	var ids []string
	until(t, "the workers to report themselves", func() bool {
		ws, err := c.Workers(context.Background())
		ids = ids[:0]
		for _, w := range ws {
			ids = append(ids, w.ID)
		}
		return err == nil && len(ws) == n
	})
	return ids
}

// waitBroadcast waits up to timeout for the task of rec to end.
func waitBroadcast(t *testing.T, c *tasks.Client, rec results.Record, timeout time.Duration) results.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done, err := c.Wait(ctx, rec.ID)
	if err != nil || done.Broadcast == nil {
		t.Fatalf("Wait(%s) = %+v, %v", rec.ID, done, err)
	}
	return done
}

// until polls cond every 50ms for up to 30s.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
