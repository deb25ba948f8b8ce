package tasks_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/tasks"
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
