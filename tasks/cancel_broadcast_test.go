package tasks_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// TestCancelRunningBroadcast cancels a broadcast task while a worker runs
// it: the task is canceled at once (no worker would act on a cancel
// request, broadcast runs hold no lease), the run goes on uninterrupted,
// and its answer, once the handler returns, is ignored.
func TestCancelRunningBroadcast(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		started := make(chan struct{}, 1)
		release := make(chan struct{})
		ended := make(chan error, 1)
		s.reg.HandleFunc("slowb", func(ctx context.Context, _ *tasks.Task) (any, error) {
			started <- struct{}{}
			<-release
			ended <- context.Cause(ctx)
			return "finished anyway", nil
		})
		_, stop := s.startPool(t, tasks.PoolConfig{VisibilityTimeout: 2 * time.Second, Concurrency: 2})
		var once sync.Once
		free := func() { once.Do(func() { close(release) }) }
		t.Cleanup(free) // before the pool stops, should the test fail first
		untilLive(t, s, 1)
		ctx := context.Background()
		id := s.submit(t, tasks.Request{Name: "slowb", Broadcast: true})
		<-started
		rec, err := s.client.Cancel(ctx, id)
		if err != nil || rec.Status != results.StatusCanceled || rec.FinishedAt.IsZero() {
			t.Fatalf("Cancel(%s) = %s, finished %v, %v; want canceled at once", id, rec.Status, rec.FinishedAt, err)
		}
		free()
		if cause := <-ended; cause != nil {
			t.Errorf("handler context cause = %v, want nil: a broadcast run is not interrupted", cause)
		}
		stop() // the pool records the run's answer before it stops
		rec = s.get(t, id)
		if rec.Status != results.StatusCanceled {
			t.Errorf("Get(%s).Status = %s after the run answered, want canceled", id, rec.Status)
		}
		if rec.Broadcast != nil {
			for w, a := range rec.Broadcast.Workers {
				if a.Status == results.WorkerSucceeded {
					t.Errorf("Get(%s): worker %s answered %s, want the answer ignored", id, w, a.Status)
				}
			}
		}
	})
}
