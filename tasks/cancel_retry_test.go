package tasks_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// TestRetryAfterCancelStartsClean cancels a running task that reported
// progress, retries it once it ended canceled, and checks that its new run
// carries neither the old cancel request nor the old progress, and that a
// second cancel while it runs is recorded again (the cancels zset, which
// workers read for a missed event, gets the new time) and ends it.
func TestRetryAfterCancelStartsClean(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		var runs atomic.Int32
		reported := make(chan struct{}, 1)
		s.reg.HandleFunc("cxagain", func(ctx context.Context, tk *tasks.Task) (any, error) {
			if runs.Add(1) == 1 {
				if err := tk.Progress(ctx, 0.5, "half"); err != nil {
					return nil, err
				}
				reported <- struct{}{}
			}
			<-ctx.Done()
			return nil, ctx.Err()
		})
		s.startPool(t, tasks.PoolConfig{VisibilityTimeout: 2 * time.Second, Concurrency: 2})
		ctx := context.Background()
		id := s.submit(t, tasks.Request{Name: "cxagain"})
		<-reported
		until(t, "the progress to be written", func() bool { return s.get(t, id).Progress != nil })
		if _, err := s.client.Cancel(ctx, id); err != nil {
			t.Fatalf("Cancel(%s): %v", id, err)
		}
		rec := s.wait(t, id)
		if rec.Status != results.StatusCanceled || rec.Progress == nil || rec.CancelRequestedAt.IsZero() {
			t.Fatalf("Wait(%s) = %s, progress %v, cancel_requested_at %v; want canceled with both", id, rec.Status, rec.Progress, rec.CancelRequestedAt)
		}
		first := cancelScore(t, s, id)
		if _, err := s.client.Retry(ctx, id); err != nil {
			t.Fatalf("Retry(%s): %v", id, err)
		}
		s.untilRunning(t, id)
		rec = s.get(t, id)
		if !rec.CancelRequestedAt.IsZero() || rec.Progress != nil {
			t.Fatalf("Get(%s) after the retry = cancel_requested_at %v, progress %v; want neither", id, rec.CancelRequestedAt, rec.Progress)
		}
		// The cancels zset scores in ms: make the second one later.
		until(t, "a later millisecond", func() bool {
			now, err := s.be.Client.Time(ctx).Result()
			return err == nil && float64(now.UnixMilli()) > first
		})
		if _, err := s.client.Cancel(ctx, id); err != nil {
			t.Fatalf("Cancel(%s) again: %v", id, err)
		}
		if second := cancelScore(t, s, id); second <= first {
			t.Errorf("cancels zset score of %s = %v after the second cancel, want > %v", id, second, first)
		}
		if rec := s.wait(t, id); rec.Status != results.StatusCanceled || rec.CancelRequestedAt.IsZero() {
			t.Errorf("Wait(%s) = %s, cancel_requested_at %v; want canceled with it", id, rec.Status, rec.CancelRequestedAt)
		}
		if n := runs.Load(); n != 2 {
			t.Errorf("runs = %d, want 2", n)
		}
	})
}

// cancelScore is the score of id in the default queue's cancels zset.
func cancelScore(t *testing.T, s bundle, id uuid.UUID) float64 {
	t.Helper()
	v, err := s.be.Client.ZScore(context.Background(), s.be.Keys.Cancels(tasks.DefaultQueue), redistest.IDText(id)).Result()
	if err != nil {
		t.Fatalf("ZScore(cancels, %s): %v", id, err)
	}
	return v
}
