package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// ghostWorker reports a worker that handles name in queue "default" and
// never looks at its inbox: a target that died just after the submission.
func ghostWorker(t *testing.T, s bundle, id, name string) {
	t.Helper()
	info, _ := json.Marshal(tasks.WorkerInfo{ID: id, Queues: []string{"default"}, Handlers: []string{name}})
	if err := s.b.Beat(context.Background(), broker.Heartbeat{ID: id, Info: info, Timeout: tasks.WorkerTimeout}); err != nil {
		t.Fatal(err)
	}
}

// TestBroadcastRetryRefused: a canceled broadcast task is not retried
// (ErrNotRetryable), and retrying it never
// puts it in the queue's pending list, where it would run once as a plain
// task.
func TestBroadcastRetryRefused(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ctx := context.Background()
		s.register(t)
		ghostWorker(t, s, "ghost", "echo")
		id := s.submit(t, tasks.Request{Name: "echo", Broadcast: true})
		if rec, err := s.client.Cancel(ctx, id); err != nil || rec.Status != results.StatusCanceled {
			t.Fatalf("Cancel(%s) = %s, %v; want canceled", id, rec.Status, err)
		}
		if _, err := s.client.Retry(ctx, id); !errors.Is(err, tasks.ErrNotRetryable) {
			t.Errorf("Retry(%s) = %v, want ErrNotRetryable", id, err)
		}
		if n := s.be.Client.LLen(ctx, s.be.Keys.Pending("default")).Val(); n != 0 {
			t.Errorf("LLEN pending = %d after the retry, want 0", n)
		}
		if rec := s.get(t, id); rec.Status != results.StatusCanceled {
			t.Errorf("Get(%s).Status = %s, want canceled", id, rec.Status)
		}
	})
}
