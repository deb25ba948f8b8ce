package tasks_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// TestDefaultOptionsAreStoredAsNothing submits a task through a client
// with the zero ClientConfig: its hash holds none of the default options
// (the broker writes a default as nothing, to keep a task's hash small),
// every reader sees them, and its record expires after the default TTL
// once it succeeded (the worker reads the TTL) and once it was canceled
// while queued (cancel's script reads it from the empty field). It fails
// if the broker's idea of the defaults drifts from ClientConfig's.
func TestDefaultOptionsAreStoredAsNothing(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ctx := context.Background()
		s.register(t)
		c := tasks.NewClient(s.be.Client, tasks.ClientConfig{Prefix: s.be.Prefix, Logger: quiet()})
		t.Cleanup(func() { _ = c.Close() })
		rec, err := c.Submit(ctx, tasks.Request{Name: "echo", Payload: []byte(`1`)})
		if err != nil {
			t.Fatal(err)
		}
		key := redistest.Layout(s.be.Prefix).Task(rec.ID)
		if m, err := s.be.Client.HGet(ctx, key, redistest.FieldMeta).Result(); err != nil || m != ",,,default,echo" {
			t.Fatalf("stored meta %q, %v; want the defaults left out", m, err)
		}
		if got := s.get(t, rec.ID); got.MaxRetries != tasks.DefaultMaxRetries || got.Timeout != tasks.DefaultTimeout || got.ResultTTL != tasks.DefaultResultTTL {
			t.Fatalf("Get: max_retries %d, timeout %v, result TTL %v; want the defaults", got.MaxRetries, got.Timeout, got.ResultTTL)
		}
		canceled, err := c.Submit(ctx, tasks.Request{Name: "echo", Payload: []byte(`2`)})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.Cancel(ctx, canceled.ID); err != nil || got.Status != results.StatusCanceled {
			t.Fatalf("Cancel = %s, %v; want canceled", got.Status, err)
		}
		s.startPool(t, tasks.PoolConfig{Concurrency: 1})
		if got := s.wait(t, rec.ID); got.Status != results.StatusSucceeded {
			t.Fatalf("Wait = %s, want succeeded", got.Status)
		}
		for _, id := range []uuid.UUID{rec.ID, canceled.ID} {
			key := redistest.Layout(s.be.Prefix).Task(id)
			if ttl := s.be.Client.PTTL(ctx, key).Val(); ttl <= tasks.DefaultResultTTL-time.Minute || ttl > tasks.DefaultResultTTL {
				t.Errorf("ended task's TTL = %v, want the default %v", ttl, tasks.DefaultResultTTL)
			}
		}
	})
}

// TestOtherUUIDVersionsNameNoTask asks for a task by a UUID that differs
// from its ID only in the version bits, which Redis does not hold: every
// call that takes an ID answers ErrNotFound rather than reaching the task.
func TestOtherUUIDVersionsNameNoTask(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ctx := context.Background()
		s.register(t)
		id := s.submit(t, tasks.Request{Name: "echo", Payload: []byte(`1`)})
		twin := id
		twin[6] = 0x40 | twin[6]&0x0f
		// Each call is bounded: the twin's task is queued and no pool runs
		// it, so a call that reached it would wait.
		calls := map[string]func(context.Context) error{
			"Get":    func(ctx context.Context) error { _, err := s.client.Get(ctx, twin); return err },
			"Wait":   func(ctx context.Context) error { _, err := s.client.Wait(ctx, twin); return err },
			"Cancel": func(ctx context.Context) error { _, err := s.client.Cancel(ctx, twin); return err },
			"Retry":  func(ctx context.Context) error { _, err := s.client.Retry(ctx, twin); return err },
			"Events": func(ctx context.Context) error {
				return s.client.Events(ctx, twin, "", func(tasks.TaskEvent) error { return nil })
			},
		}
		for name, call := range calls {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := call(cctx)
			cancel()
			if !errors.Is(err, tasks.ErrNotFound) {
				t.Errorf("%s of %s, a version 4 twin of task %s = %v, want ErrNotFound", name, twin, id, err)
			}
		}
		if rec := s.get(t, id); rec.Status != results.StatusQueued {
			t.Errorf("task %s is %s after its twin's calls, want queued", id, rec.Status)
		}
	})
}
