package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// One pool runs echo and fail tasks; the client then sees them listed,
// counted per queue (with the attempts the pool reported as it stopped),
// the pool among the live workers while it runs, and the handlers.
func TestClientInspects(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ctx := context.Background()
		_, stop := s.startPool(t, tasks.PoolConfig{Queues: []string{"ops"}, Concurrency: 3, BatchWait: 5 * time.Millisecond})
		var ids []uuid.UUID
		for i := range 4 {
			r := tasks.Request{Name: "echo", Payload: payload(t, i), Options: tasks.Options{Queue: "ops"}}
			if i == 3 {
				r = tasks.Request{Name: "fail", Options: tasks.Options{Queue: "ops", MaxRetries: tasks.NoRetries}}
			}
			ids = append(ids, s.submit(t, r))
		}
		for _, id := range ids {
			s.wait(t, id)
		}
		until(t, "the pool among the live workers", func() bool {
			ws, err := s.client.Workers(ctx)
			return err == nil && len(ws) == 1 && ws[0].Running == 0 && ws[0].Concurrency == 3
		})
		ws, _ := s.client.Workers(ctx)
		host, _ := os.Hostname()
		if w := ws[0]; w.PID != os.Getpid() || w.Host != host || !slices.Equal(w.Queues, []string{"ops"}) || w.Version != tasks.Version || w.BatchWait != "5ms" {
			t.Errorf("worker = %+v, want this process on %s serving [ops], version %s, batch wait 5ms", w, host, tasks.Version)
		}
		stop()
		if ws, err := s.client.Workers(ctx); err != nil || len(ws) != 0 {
			t.Errorf("Workers after the pool stopped = %+v, %v; want none", ws, err)
		}

		page, err := s.client.List(ctx, tasks.ListOptions{Queue: "ops", Status: results.StatusFailed})
		if err != nil || len(page.Tasks) != 1 || page.Tasks[0].ID != ids[3] || page.NextCursor != "" {
			t.Errorf("List(failed) = %+v, %v; want the fail task alone", page, err)
		}
		page, err = s.client.List(ctx, tasks.ListOptions{Name: "echo", Limit: 2})
		if err != nil || len(page.Tasks) != 2 || page.Tasks[0].ID != ids[2] || page.NextCursor == "" {
			t.Errorf("List(echo, limit 2) = %+v, %v; want the last two echo tasks, newest first, and a cursor", page, err)
		}

		q, err := s.client.Queue(ctx, "ops")
		if err != nil {
			t.Fatal(err)
		}
		if q.Succeeded != 3 || q.Failed != 1 || q.Queued != 0 || q.Processed1m != 4 || q.FailedAttempts1m != 1 || q.Processed1h != 4 {
			t.Errorf("Queue(ops) = %+v; want 3 succeeded, 1 failed, 4 processed and 1 failed in the last minute", q)
		}
		if n := len(q.History); n != int(tasks.ThroughputSpan/tasks.ThroughputStep) {
			t.Errorf("history of %d steps, want %d", n, tasks.ThroughputSpan/tasks.ThroughputStep)
		}
		var sum int64
		for _, h := range q.History {
			sum += h.Processed
		}
		if sum != 4 {
			t.Errorf("history sums to %d processed, want 4", sum)
		}
		qs, err := s.client.Queues(ctx)
		if err != nil || len(qs) != 1 || qs[0].Name != "ops" {
			t.Errorf("Queues = %+v, %v; want ops alone", qs, err)
		}
		hs, err := s.client.Handlers(ctx)
		if err != nil || !slices.ContainsFunc(hs, func(h tasks.HandlerInfo) bool { return h.Name == "echo" }) {
			t.Errorf("Handlers = %+v, %v; want echo among them", hs, err)
		}
	})
}

func TestClientRetryAndPurge(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ctx := context.Background()
		_, stop := s.startPool(t, tasks.PoolConfig{Queues: []string{"ops"}})
		failed := s.submit(t, tasks.Request{Name: "fail", Options: tasks.Options{Queue: "ops", MaxRetries: tasks.NoRetries}})
		ok := s.submit(t, tasks.Request{Name: "echo", Options: tasks.Options{Queue: "ops"}})
		s.wait(t, failed)
		s.wait(t, ok)
		if _, err := s.client.Retry(ctx, ok); !errors.Is(err, tasks.ErrNotRetryable) {
			t.Errorf("Retry(succeeded) = %v, want ErrNotRetryable", err)
		}
		rec, err := s.client.Retry(ctx, failed)
		if err != nil || rec.ID != failed || rec.Error == "" {
			t.Fatalf("Retry(failed) = %+v, %v; want its record, with the last error kept", rec, err)
		}
		rec = s.wait(t, failed)
		if rec.Status != results.StatusFailed || rec.Attempts != 2 {
			t.Errorf("retried task ended %s after %d attempts, want failed after 2", rec.Status, rec.Attempts)
		}
		stop()
		if n, err := s.client.Purge(ctx, "ops", results.StatusSucceeded); err != nil || n != 1 {
			t.Errorf("Purge(succeeded) = %d, %v; want 1", n, err)
		}
		if _, err := s.client.Get(ctx, ok); !errors.Is(err, tasks.ErrNotFound) {
			t.Errorf("Get(purged) = %v, want ErrNotFound", err)
		}
		for _, bad := range []struct {
			queue  string
			status results.Status
		}{{"ops", results.StatusRunning}, {"ops", "done"}, {"a{b", results.StatusFailed}} {
			if _, err := s.client.Purge(ctx, bad.queue, bad.status); !errors.Is(err, tasks.ErrInvalid) {
				t.Errorf("Purge(%q, %q) = %v, want ErrInvalid", bad.queue, bad.status, err)
			}
		}
	})
}

func TestListOptionsAreChecked(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		for _, o := range []tasks.ListOptions{
			{Limit: -1}, {Limit: tasks.MaxListLimit + 1}, {Status: "done"}, {Queue: "a b"},
			{Name: "-x"}, {Queue: "q", Cursor: "nope"},
		} {
			if _, err := s.client.List(context.Background(), o); !errors.Is(err, tasks.ErrInvalid) {
				t.Errorf("List(%+v) = %v, want ErrInvalid", o, err)
			}
		}
	})
}

func TestInspectJSON(t *testing.T) {
	t.Parallel()
	q := tasks.QueueInfo{Name: "q", OldestQueued: 1500 * time.Millisecond}
	b, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	var back tasks.QueueInfo
	if err := json.Unmarshal(b, &back); err != nil || back.OldestQueued != q.OldestQueued || back.Name != "q" {
		t.Errorf("QueueInfo %s read back as %+v, %v", b, back, err)
	}
	h := tasks.HandlerInfo{Name: "x", Timeout: time.Minute}
	b, _ = json.Marshal(h)
	if string(b) != `{"name":"x","timeout":"1m0s"}` {
		t.Errorf("HandlerInfo JSON = %s", b)
	}
	var hb tasks.HandlerInfo
	if err := json.Unmarshal(b, &hb); err != nil || hb != h {
		t.Errorf("HandlerInfo %s read back as %+v, %v", b, hb, err)
	}
}
