package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// result is what the storing handler writes with t.ResultWriter().
var result = []byte(`{"ok":true}`)

// drain starts one in-process asynq server with the given concurrency on n
// queued tasks and measures from server start to the last completion, that
// is until asynq's processed counter reaches n (a handler's return is not
// yet a completion: asynq marks the task done afterwards).
func (b *bench) drain(ctx context.Context, concurrency, n int, storeResult bool) (cost, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute+time.Duration(n)*2*time.Millisecond)
	defer cancel()
	tc := &tripCounter{}
	rc := b.newClient(tc)
	defer rc.Close()
	var handled atomic.Int64
	done := make(chan struct{})
	h := asynq.HandlerFunc(func(_ context.Context, t *asynq.Task) error {
		if storeResult {
			if _, err := t.ResultWriter().Write(result); err != nil {
				return err
			}
		}
		if handled.Add(1) == int64(n) {
			close(done)
		}
		return nil
	})
	srv := asynq.NewServerFromRedisClient(rc, asynq.Config{Concurrency: concurrency, LogLevel: asynq.WarnLevel})
	before, err := b.snapshot(ctx, tc)
	if err != nil {
		return cost{}, err
	}
	if err := srv.Start(h); err != nil {
		return cost{}, fmt.Errorf("start asynq server: %w", err)
	}
	defer srv.Shutdown()
	select {
	case <-done:
	case <-ctx.Done():
		return cost{}, fmt.Errorf("drain: %d of %d tasks handled: %w", handled.Load(), n, ctx.Err())
	}
	polls, err := b.waitProcessed(ctx, n)
	if err != nil {
		return cost{}, err
	}
	return b.measured(ctx, before, tc, polls)
}

// waitProcessed polls asynq's processed counter (base.ProcessedTotalKey,
// asynq:{<queue>}:processed) every millisecond until it reaches n, and returns
// how many GETs it sent so they can be left out of the command count.
func (b *bench) waitProcessed(ctx context.Context, n int) (int64, error) {
	key := "asynq:{" + queueName + "}:processed"
	t := time.NewTimer(0)
	defer t.Stop()
	for polls := int64(1); ; polls++ {
		select {
		case <-ctx.Done():
			return polls, fmt.Errorf("wait for %d completions: %w", n, ctx.Err())
		case <-t.C:
		}
		v, err := b.mon.Get(ctx, key).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return polls, fmt.Errorf("get %s: %w", key, err)
		}
		if got, _ := strconv.Atoi(v); got >= n {
			return polls, nil
		}
		t.Reset(time.Millisecond)
	}
}
