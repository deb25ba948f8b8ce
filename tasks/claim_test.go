package tasks_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
	"github.com/runq/runq/tasks/builtin"
)

// claimCounter counts, on one Redis client, the blocking waits sent and
// the claim scripts applied: takes (their first key is a queue), takes that name
// the head they saw (six keys), and starts (their second key is a lease
// set).
type claimCounter struct {
	mu                         sync.Mutex
	waits, takes, heads, start int
}

func (c *claimCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *claimCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "blmove" {
			c.count(cmd) // counted as sent: it blocks
		}
		err := next(ctx, cmd)
		if cmd.Name() != "blmove" && err == nil {
			c.count(cmd) // counted once applied: go-redis sends EVAL after a NOSCRIPT
		}
		return err
	}
}

func (c *claimCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			if cmd.Err() == nil {
				c.count(cmd)
			}
		}
		return err
	}
}

func (c *claimCounter) count(cmd redis.Cmder) {
	args := cmd.Args()
	c.mu.Lock()
	defer c.mu.Unlock()
	switch name := strings.ToLower(fmt.Sprint(args[0])); {
	case name == "blmove":
		c.waits++
	case (name == "evalsha" || name == "eval") && len(args) > 4:
		keys := fmt.Sprint(args[2])
		switch {
		case strings.HasSuffix(fmt.Sprint(args[3]), ":pending"):
			c.takes++
			if keys == "6" { // the five of every take and the head
				c.heads++
			}
		case strings.Contains(fmt.Sprint(args[4]), ":lease:"):
			c.start++
		}
	}
}

func (c *claimCounter) get() (waits, takes, heads, starts int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waits, c.takes, c.heads, c.start
}

// TestPoolClaimsALoneTaskInOneCall submits tasks one at a time to an idle
// pool, as a queue at a steady low rate sees them: the wait tells the pool
// each task's ID, and one take.lua call takes and starts it. No start.lua
// follows, and no take finds the queue empty.
func TestPoolClaimsALoneTaskInOneCall(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		counter := &claimCounter{}
		s.startHookedPool(t, counter, tasks.PoolConfig{Concurrency: 4})
		const n = 3
		waitUntil(t, func() bool { w, _, _, _ := counter.get(); return w > 0 }) // the pool is waiting
		_, takes0, _, _ := counter.get()                                        // its first take, at start, found nothing
		for i := range n {
			waitUntil(t, func() bool { w, _, _, _ := counter.get(); return w > i })
			s.wait(t, s.submit(t, tasks.Request{Name: "echo", Payload: []byte(`1`)}))
		}
		if _, takes, heads, starts := counter.get(); takes-takes0 != n || heads != n || starts != 0 {
			takes -= takes0
			t.Errorf("%d tasks one at a time: %d takes, %d naming the head, %d starts; want %d, %d, 0", n, takes, heads, starts, n, n)
		}
	})
}

// waitUntil polls cond every millisecond, failing after 10s.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
	}
}

// TestBatchWaitClaimsArrivalsTogether submits two tasks back to back to a
// waiting pool with a BatchWait: the first one's arrival wakes the pool,
// which holds its claim back for BatchWait, so one claim (one lease
// token) takes both, and the first starts no sooner than BatchWait after
// it was created. A pool without it starts the first at once (see
// TestPoolClaimsALoneTaskInOneCall). A pool of one queue and one of two
// have claim loops of their own; the second waits on a client of its own,
// which only a real Redis's CLIENT LIST shows waiting.
func TestBatchWaitClaimsArrivalsTogether(t *testing.T) {
	const wait = 1500 * time.Millisecond
	each(t, func(t *testing.T, s bundle) {
		startWaitingPool(t, s, wait)
		checkClaimedTogether(t, s, wait)
	})
	t.Run("two queues", func(t *testing.T) {
		t.Parallel()
		be, ok := redistest.Real(t)
		if !ok {
			t.Skip("CLIENT LIST tells a waiting client only on a real Redis; REDIS_URL is not set")
		}
		s := bundle{be: be, reg: tasks.NewRegistry()}
		builtin.Register(s.reg)
		s.client = tasks.NewClient(be.Client, tasks.ClientConfig{Prefix: be.Prefix, Logger: quiet()})
		t.Cleanup(func() { _ = s.client.Close() })
		opts := *be.Client.Options()
		opts.ClientName = "batchwait-" + uuid.NewString()
		rdb := redis.NewClient(&opts) // the pool's wait client copies its name, not its hooks
		counter := &claimCounter{}
		rdb.AddHook(counter)
		t.Cleanup(func() { _ = rdb.Close() })
		s.run(t, tasks.NewPool(rdb, s.reg, tasks.PoolConfig{Queues: []string{"default", "low"}, Concurrency: 4,
			BatchWait: wait, Prefix: be.Prefix, Logger: quiet()}))
		// The pool is waiting once both its claim loops have found both
		// queues empty (a take each) and one of them blocks on BLMOVE.
		waitUntil(t, func() bool {
			if _, takes, _, _ := counter.get(); takes < 4 {
				return false
			}
			list, err := be.Client.ClientList(context.Background()).Result()
			for _, line := range strings.Split(list, "\n") {
				if err == nil && strings.Contains(line, " name="+opts.ClientName+" ") && strings.Contains(line, " cmd=blmove ") {
					return true
				}
			}
			return false
		})
		checkClaimedTogether(t, s, wait)
	})
}

// startWaitingPool runs a pool of one queue with a BatchWait of wait on
// s, and returns once it waits on Redis for a task.
func startWaitingPool(t *testing.T, s bundle, wait time.Duration) {
	t.Helper()
	counter := &claimCounter{}
	s.startHookedPool(t, counter, tasks.PoolConfig{Concurrency: 4, BatchWait: wait})
	waitUntil(t, func() bool { w, _, _, _ := counter.get(); return w > 0 })
}

// checkClaimedTogether submits two tasks back to back to s's waiting pool
// and checks that one claim took both, wait after the first was created.
func checkClaimedTogether(t *testing.T, s bundle, wait time.Duration) {
	t.Helper()
	a := s.submit(t, tasks.Request{Name: "echo", Payload: []byte(`1`)})
	b := s.submit(t, tasks.Request{Name: "echo", Payload: []byte(`2`)})
	ra, rb := s.wait(t, a), s.wait(t, b)
	if d := ra.StartedAt.Sub(ra.CreatedAt); d < wait {
		t.Errorf("the first task started %v after it was created, want at least the BatchWait of %v", d, wait)
	}
	tokens := make([]string, 2)
	for i, id := range []uuid.UUID{a, b} {
		at, err := s.be.Client.HGet(context.Background(), s.be.Keys.Task(id), redistest.FieldAttempt).Result()
		if err != nil {
			t.Fatal(err)
		}
		tokens[i], _, _ = strings.Cut(at, ",")
	}
	if tokens[0] != tokens[1] || ra.Status != results.StatusSucceeded || rb.Status != results.StatusSucceeded {
		t.Errorf("lease tokens %q and %q, statuses %s and %s: want one claim for both, both succeeded", tokens[0], tokens[1], ra.Status, rb.Status)
	}
}

// TestBatchWaitClaimsAtOnceAfterAQuiet submits a task to a pool with a
// BatchWait once the pool has waited longer than that: tasks come further
// apart than BatchWait, so a wait would gather nothing, and the pool
// claims the task at once.
func TestBatchWaitClaimsAtOnceAfterAQuiet(t *testing.T) {
	const wait = 2 * time.Second
	each(t, func(t *testing.T, s bundle) {
		startWaitingPool(t, s, wait)
		time.Sleep(wait + 500*time.Millisecond) // a quiet longer than BatchWait
		rec := s.wait(t, s.submit(t, tasks.Request{Name: "echo", Payload: []byte(`1`)}))
		if d := rec.StartedAt.Sub(rec.CreatedAt); d >= wait || rec.Status != results.StatusSucceeded {
			t.Errorf("a task after a quiet started %v after it was created (%s), want at once, not after the BatchWait of %v", d, rec.Status, wait)
		}
	})
}
