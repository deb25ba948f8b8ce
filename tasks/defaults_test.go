package tasks_test

import (
	"context"
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
