package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
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

// TestBroadcastInboxesOfTheDead: a canceled broadcast task leaves the
// inbox of its target at once, even of one that died (its inbox key goes);
// and when a pool's maintenance finds a target dead, it answers for it and
// empties its inbox, of a task it reports missing and of any other ID
// left there (a task gone), so that no inbox of a dead worker stays.
func TestBroadcastInboxesOfTheDead(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ctx := context.Background()
		s.register(t)
		ghostWorker(t, s, "ghost", "echo")
		inbox := s.be.Keys.Inbox("default", "ghost")
		canceled := s.submit(t, tasks.Request{Name: "echo", Broadcast: true})
		if _, err := s.client.Cancel(ctx, canceled); err != nil {
			t.Fatalf("Cancel(%s) = %v", canceled, err)
		}
		if n := s.be.Client.Exists(ctx, inbox).Val(); n != 0 {
			t.Errorf("EXISTS inbox of the dead target = %d after the cancel, want 0", n)
		}
		if n := s.be.Client.ZCard(ctx, s.be.Keys.Broadcasts("default")).Val(); n != 0 {
			t.Errorf("ZCARD open broadcasts = %d after the cancel, want 0", n)
		}

		p, _ := s.startPool(t, tasks.PoolConfig{})
		untilLive(t, s, 2)
		id := s.submit(t, tasks.Request{Name: "echo", Broadcast: true})
		stray := s.submit(t, tasks.Request{Name: "echo"}) // an ID of the queue's slot whose task is gone
		s.wait(t, stray)
		s.be.Client.Del(ctx, s.be.Keys.Task(stray))
		s.be.Client.RPush(ctx, inbox, redistest.IDText(stray)) // as IDs are written
		if err := s.b.Leave(ctx, "ghost", tasks.WorkerTimeout); err != nil {
			t.Fatal(err)
		}
		rec := s.wait(t, id)
		if a := rec.Broadcast.Workers["ghost"]; rec.Status != results.StatusFailed || a.Status != results.WorkerMissing ||
			rec.Broadcast.Workers[p.ID()].Status != results.WorkerSucceeded {
			t.Fatalf("Wait(%s) = %s %+v; want failed, the ghost missing", id, rec.Status, rec.Broadcast.Workers)
		}
		deadline := time.Now().Add(5 * time.Second)
		for s.be.Client.Exists(ctx, inbox).Val() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("inbox of the dead target = %v, want gone", s.be.Client.LRange(ctx, inbox, 0, -1).Val())
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// TestBroadcastHonoursPause: a paused queue's broadcast tasks wait in the
// inboxes (the target's answer stays pending, the task queued) and run
// once the queue is resumed, woken by the settings event.
func TestBroadcastHonoursPause(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ctx := context.Background()
		if err := s.client.PauseQueue(ctx, "default"); err != nil {
			t.Fatal(err)
		}
		p, _ := s.startPool(t, tasks.PoolConfig{})
		untilLive(t, s, 1)
		id := s.submit(t, tasks.Request{Name: "echo", Broadcast: true})
		time.Sleep(time.Second) // the event and a few maintenance rounds
		if rec := s.get(t, id); rec.Status != results.StatusQueued || rec.Broadcast.Workers[p.ID()].Status != results.WorkerPending {
			t.Fatalf("Get(%s) on a paused queue = %s %+v; want queued, pending", id, rec.Status, rec.Broadcast.Workers)
		}
		if bt, err := s.b.StartBroadcast(ctx, "default", p.ID()); bt != nil || !errors.Is(err, broker.ErrPaused) {
			t.Errorf("StartBroadcast on a paused queue = %+v, %v; want ErrPaused", bt, err)
		}
		if err := s.client.ResumeQueue(ctx, "default"); err != nil {
			t.Fatal(err)
		}
		if rec := s.wait(t, id); rec.Status != results.StatusSucceeded {
			t.Errorf("Wait(%s) after the resume = %s, want succeeded", id, rec.Status)
		}
	})
}

// openChecks counts the reads of one key by ZRANGE (the check of a
// queue's open broadcasts).
type openChecks struct {
	key string
	n   atomic.Int64
}

func (c *openChecks) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *openChecks) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if args := cmd.Args(); len(args) > 1 && strings.EqualFold(fmt.Sprint(args[0]), "zrange") && args[1] == c.key {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c *openChecks) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestBroadcastIdleChecks: an idle pool, with no broadcast open, looks
// for open broadcasts once per heartbeat, not each second; a broadcast
// event makes it look each second while the task is open, so that a dead
// target is still found (see TestBroadcastRunsOnEveryRegisteredWorker).
func TestBroadcastIdleChecks(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		checks := &openChecks{key: s.be.Keys.Broadcasts("default")}
		s.startHookedPool(t, checks, tasks.PoolConfig{})
		untilLive(t, s, 1)
		time.Sleep(3 * time.Second) // three maintenance rounds
		if n := checks.n.Load(); n > 1 {
			t.Errorf("ZRANGE of the open broadcasts by an idle pool in 3s = %d, want at most 1 (at its start)", n)
		}
	})
}
