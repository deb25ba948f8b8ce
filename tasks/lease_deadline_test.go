package tasks_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// lostReplies lets the first `drop` pipelines that start task key through,
// then withholds their replies until the caller's deadline (a reply lost in
// a Redis stall); onOK runs after the first pipeline whose reply arrives.
type lostReplies struct {
	taskKey string
	drop    int32
	n       atomic.Int32
	onOK    func(start redis.Cmder)
}

func (h *lostReplies) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *lostReplies) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *lostReplies) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			if n := c.Name(); n != "evalsha" && n != "eval" {
				continue // the start scripts' calls only, not a tidying EXISTS
			}
			for _, a := range c.Args() {
				if s, ok := a.(string); ok && s == h.taskKey {
					if h.n.Add(1) <= h.drop {
						<-ctx.Done()
						return ctx.Err()
					}
					if h.n.Load() == h.drop+1 {
						h.onOK(c)
					}
					return err
				}
			}
		}
		return err
	}
}

// TestAheadBatchNotStartedAfterItsLeaseExpired withholds the replies of
// the pipelines that start a batch taken ahead (as a Redis stall would,
// after applying them), and reaps as another worker would when the third
// arrives. The tries must end within half the visibility timeout of the
// take, and start.lua must refuse an expired lease: were each try given
// half the visibility timeout of its own, the third could start, and the
// pool launch, a batch whose lease had expired and been handed on, and the
// handler would run twice.
func TestAheadBatchNotStartedAfterItsLeaseExpired(t *testing.T) {
	t.Parallel()
	be, ok := redistest.Real(t)
	if !ok {
		t.Skip("needs REDIS_URL")
	}
	const v = 600 * time.Millisecond
	plain := broker.New(be.Client, be.Prefix)
	reg := tasks.NewRegistry()
	var mu sync.Mutex
	var runs []int
	reg.HandleFunc("x", func(ctx context.Context, tk *tasks.Task) (any, error) {
		mu.Lock()
		runs = append(runs, tk.Attempt)
		mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
		return nil, ctx.Err()
	})
	client := tasks.NewClient(be.Client, tasks.ClientConfig{ResultTTL: time.Hour, Prefix: be.Prefix})
	defer client.Close()
	if err := tasks.NewPool(be.Client, reg, tasks.PoolConfig{Prefix: be.Prefix}).Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec, err := client.Submit(context.Background(), tasks.Request{Name: "x", Options: tasks.Options{Queue: "q", MaxRetries: tasks.NoRetries}})
	if err != nil {
		t.Fatal(err)
	}
	var expiredAtStart atomic.Bool
	hook := &lostReplies{taskKey: be.Keys.Task(rec.ID), drop: 2, onOK: func(start redis.Cmder) {
		args := start.Args()
		nk := int(args[2].(int))
		token := args[3+nk].(string)
		ctx := context.Background()
		dl, _ := be.Client.ZScore(ctx, be.Keys.Leases("q"), token).Result()
		now, _ := be.Client.Time(ctx).Result()
		if dl > 0 && int64(dl) < now.UnixMilli() {
			expiredAtStart.Store(true)
		}
		// Another worker's maintainer reaps the expired lease now.
		if m, err := plain.Maintain(ctx, "q", 3); err != nil || m.Leases == 0 {
			t.Logf("maintain: %+v %v", m, err)
		}
	}}
	opts, _ := redis.ParseURL(be.URL)
	opts.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	rdb.AddHook(hook)
	p := tasks.NewPool(rdb, reg, tasks.PoolConfig{
		Queues: []string{"q"}, Concurrency: 2, VisibilityTimeout: v, Prefix: be.Prefix, Logger: quiet(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	until(t, "the task to finish", func() bool {
		r, err := client.Get(context.Background(), rec.ID)
		return err == nil && r.Status.Terminal()
	})
	cancel()
	<-done
	final, _ := client.Get(context.Background(), rec.ID)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("handler runs (attempt numbers) %v; final %s after %d attempts, %d crashes", runs, final.Status, final.Attempts, final.Crashes)
	if final.Status != results.StatusSucceeded {
		t.Errorf("final status %s (%q), want succeeded", final.Status, final.Error)
	}
	if expiredAtStart.Load() {
		t.Errorf("start.lua ran after the batch's lease expired and the pool launched it anyway")
	}
	if len(runs) != 1 {
		t.Errorf("handler ran %d times, want 1 (no worker crashed)", len(runs))
	}
}
