package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/api"
	"github.com/runq/runq/api/client"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// TestRetryQueue fails tasks on a running pool, finds them kept for the
// pool's failed TTL (a week by default, over their result TTL of a day),
// and queues them all again over HTTP: each runs (and fails) once more,
// with its ID and its earlier attempt.
func TestRetryQueue(t *testing.T) {
	t.Parallel()
	for _, be := range redistest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			c, err := client.New(serve(t, be, api.Config{}, true), client.Config{MaxWait: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var ids []uuid.UUID
			for range 3 {
				rec, err := c.Submit(ctx, tasks.Request{Name: "fail"})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, rec.ID)
			}
			waitAttempts(ctx, t, c, ids, 1)
			for _, id := range ids {
				ttl := be.Client.PTTL(ctx, be.Keys.Task(id)).Val()
				if ttl <= tasks.DefaultFailedTTL-time.Minute || ttl > tasks.DefaultFailedTTL {
					t.Errorf("PTTL of failed task %s = %v, want about %v (the failed TTL)", id, ttl, tasks.DefaultFailedTTL)
				}
			}
			n, err := c.RetryQueue(ctx, tasks.DefaultQueue, results.StatusFailed)
			if err != nil || n != 3 {
				t.Fatalf("RetryQueue(default, failed) = %d, %v; want 3", n, err)
			}
			waitAttempts(ctx, t, c, ids, 2)
			if _, err := c.RetryQueue(ctx, tasks.DefaultQueue, results.StatusCanceled); !errors.Is(err, tasks.ErrInvalid) {
				t.Errorf("RetryQueue(default, canceled) = %v, want ErrInvalid", err)
			}
		})
	}
}

// waitAttempts waits until each task of ids failed at its attempt n.
func waitAttempts(ctx context.Context, t *testing.T, c *client.Client, ids []uuid.UUID, n int) {
	t.Helper()
	for _, id := range ids {
		for {
			rec, err := c.Get(ctx, id)
			if err != nil {
				t.Fatalf("Get(%s) = %v", id, err)
			}
			if rec.Status == results.StatusFailed && rec.Attempts == n {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("task %s is %s at attempt %d, want failed at %d", id, rec.Status, rec.Attempts, n)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}
