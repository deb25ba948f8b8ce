package tasks_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// hookCounter counts, on one Redis client, the commands that name a
// queue's hooks set: scripts (hook_claim.lua, hook_done.lua) and plain
// reads.
type hookCounter struct {
	mu             sync.Mutex
	scripts, reads int
}

func (c *hookCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *hookCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		args := cmd.Args()
		c.mu.Lock()
		defer c.mu.Unlock()
		switch name := cmd.Name(); {
		case (name == "evalsha" || name == "eval") && len(args) > 3 && strings.HasSuffix(args[3].(string), ":hooks"):
			c.scripts++
		case name == "zrange" && len(args) > 1 && strings.HasSuffix(args[1].(string), ":hooks"):
			c.reads++
		}
		return err
	}
}

func (c *hookCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (c *hookCounter) get() (scripts, reads int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.scripts, c.reads
}

// TestWebhookIdleIsOneRead: a pool whose queue has no webhook to deliver
// looks with a plain read, and runs no script; once a task ends with a
// callback URL, its webhook is delivered all the same.
func TestWebhookIdleIsOneRead(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		counter := &hookCounter{}
		s.startHookedPool(t, counter, tasks.PoolConfig{WebhookAllowPrivate: true})
		until(t, "two idle looks", func() bool { _, reads := counter.get(); return reads >= 2 })
		if scripts, reads := counter.get(); scripts != 0 {
			t.Errorf("idle: %d hook scripts and %d reads, want 0 scripts", scripts, reads)
		}
		sink := newHookSink(t, http.StatusServiceUnavailable)
		rec, err := privateClient(t, s).Submit(context.Background(), tasks.Request{Name: "echo", CallbackURL: sink.srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		if wh := untilWebhook(t, privateClient(t, s), rec.ID).Webhook; wh.Status != results.WebhookDelivered || wh.Attempts != 2 {
			t.Errorf("webhook = %+v, want delivered at the second attempt", wh)
		}
	})
}
