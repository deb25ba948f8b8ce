package broker

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker/internal/layout"
)

// HookClaim is a batch of webhook deliveries of one queue taken by
// DueHooks: their IDs, and the fence that HookDone presents.
type HookClaim struct {
	Queue string
	IDs   []uuid.UUID
	Fence string
	// At is when the batch was taken, on Redis's clock (the fence less
	// the visibility): a caller compares FirstHook's times with it.
	At time.Time
}

// DueHooks takes up to n of queue's webhook deliveries that are due (the
// task ended with a callback URL, or an earlier attempt asked to be tried
// again by now) for visibility: no other call takes them until it lapses,
// so that two processes do not both send one attempt, while a process lost
// mid-attempt leaves it to another (at-least-once delivery).
func (b *Broker) DueHooks(ctx context.Context, queue string, n int, visibility time.Duration) (HookClaim, error) {
	res, err := hookClaimScript.Run(ctx, b.rdb, []string{b.keys.Hooks(queue)}, n, ms(visibility)).StringSlice()
	if err == nil && len(res) == 0 {
		err = fmt.Errorf("hook_claim.lua replied nothing")
	}
	if err != nil {
		return HookClaim{}, fmt.Errorf("broker: take the due webhooks of %s: %w", queue, err)
	}
	hc := HookClaim{Queue: queue, Fence: res[0]}
	if fence, err := strconv.ParseInt(res[0], 10, 64); err == nil {
		hc.At = time.UnixMilli(fence).Add(-visibility)
	}
	for _, raw := range res[1:] {
		if id, err := layout.ParseIDText(raw); err == nil {
			hc.IDs = append(hc.IDs, id)
		}
	}
	return hc, nil
}

// HookDone records an attempt to deliver task id's webhook, taken in hc:
// state (JSON; nil writes none) goes into the task's record, and the
// delivery is tried again after retryIn (the task's record is kept until
// 10 minutes after that, if it would expire sooner), or, when retryIn < 0,
// ends. It
// reports whether it wrote: false when hc's visibility lapsed and another
// process took the delivery over, or when the task's record is gone (its
// result TTL ran out: the delivery then ends).
func (b *Broker) HookDone(ctx context.Context, hc HookClaim, id uuid.UUID, state []byte, retryIn time.Duration) (bool, error) {
	next := ""
	if retryIn >= 0 {
		next = strconv.FormatInt(retryIn.Milliseconds(), 10)
	}
	keys := []string{b.keys.Hooks(hc.Queue), b.keys.Task(id)}
	n, err := hookDoneScript.Run(ctx, b.rdb, keys, layout.IDText(id), hc.Fence, state, next).Int64()
	if err != nil {
		return false, fmt.Errorf("broker: record the webhook of %s: %w", id, err)
	}
	return n == 1, nil
}

// FirstHook returns when queue's earliest webhook delivery is due (or,
// while taken, when its visibility lapses), on Redis's clock; ok is false
// when queue has none. It is one plain read, so that an idle deliverer
// need not run hook_claim.lua to learn there is nothing to do.
func (b *Broker) FirstHook(ctx context.Context, queue string) (at time.Time, ok bool, err error) {
	zs, err := b.rdb.ZRangeWithScores(ctx, b.keys.Hooks(queue), 0, 0).Result()
	if err != nil {
		return time.Time{}, false, fmt.Errorf("broker: read the webhooks of %s: %w", queue, err)
	}
	if len(zs) == 0 {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(int64(zs[0].Score)), true, nil
}
