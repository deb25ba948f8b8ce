package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Renew pushes the deadlines of queue's leases named by tokens (one per
// claimed batch, however many of its attempts still run) to Redis's now
// plus lease. held[i] reports whether tokens[i] is still held; the
// handlers under a lease that is not must be stopped, since another worker
// may run their tasks.
func (b *Broker) Renew(ctx context.Context, queue string, lease time.Duration, tokens []string) (held []bool, err error) {
	if len(tokens) == 0 {
		return nil, nil
	}
	args := make([]any, 0, 1+len(tokens))
	args = append(args, ms(lease))
	for _, tok := range tokens {
		args = append(args, tok)
	}
	res, err := renewScript.Run(ctx, b.rdb, []string{b.keys.Leases(queue)}, args...).Int64Slice()
	if err == nil && len(res) != len(tokens) {
		err = fmt.Errorf("renew.lua replied %d answers for %d leases", len(res), len(tokens))
	}
	if err != nil {
		return nil, fmt.Errorf("broker: renew %d leases of %s: %w", len(tokens), queue, err)
	}
	held = make([]bool, len(res))
	for i, v := range res {
		held[i] = v == 1
	}
	return held, nil
}

// Ready names a queue that WaitReady found with a task waiting, and the ID
// at its head then: Take starts that task in the same call that takes it.
type Ready struct {
	Queue string
	Head  string
}

// WaitReady blocks until one of queues has a waiting task, up to timeout,
// and reports which (ok is false when none did). It does not take the
// task: it rotates the head of the list onto itself (BLMOVE q q LEFT
// LEFT), which leaves the list as it was, tells the ID at its head, and
// lets an idle worker block on Redis instead of polling it.
func (b *Broker) WaitReady(ctx context.Context, queues []string, timeout time.Duration) (r Ready, ok bool, err error) {
	if len(queues) == 1 {
		return b.waitOne(ctx, b.rdb, queues[0], timeout)
	}
	rdb := b.waitClient()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		ready Ready
		ok    bool
		err   error
	}
	results := make(chan result, len(queues))
	for _, q := range queues {
		go func() {
			r, ok, err := b.waitOne(ctx, rdb, q, timeout)
			results <- result{r, ok, err}
		}()
	}
	var firstErr error
	for range queues {
		r := <-results
		if r.ok {
			return r.ready, true, nil // the rest return within timeout, into the buffer
		}
		if r.err != nil && firstErr == nil {
			firstErr = r.err
		}
	}
	return Ready{}, false, firstErr
}

func (b *Broker) waitOne(ctx context.Context, rdb redis.UniversalClient, queue string, timeout time.Duration) (Ready, bool, error) {
	key := b.keys.Pending(queue)
	head, err := rdb.BLMove(ctx, key, key, "LEFT", "LEFT", timeout).Result()
	switch {
	case err == nil:
		return Ready{Queue: queue, Head: head}, true, nil
	case errors.Is(err, redis.Nil):
		return Ready{}, false, nil
	default:
		return Ready{}, false, fmt.Errorf("broker: wait on %s: %w", queue, err)
	}
}

// QueueStats counts the IDs in a queue's structures.
type QueueStats struct {
	Pending   int64 // waiting, including canceled tombstones not yet dropped
	Leased    int64 // taken by a worker and not yet finished
	Scheduled int64 // waiting for a retry time
}

// Stats returns the sizes of queue's list and sets. It reads, in two round
// trips, the list, the scheduled set, the lease tokens and then each
// lease's set, so Leased is not a snapshot taken at one instant.
func (b *Broker) Stats(ctx context.Context, queue string) (QueueStats, error) {
	var p, s *redis.IntCmd
	var tokens *redis.StringSliceCmd
	_, err := b.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		p = pipe.LLen(ctx, b.keys.Pending(queue))
		s = pipe.ZCard(ctx, b.keys.Scheduled(queue))
		tokens = pipe.ZRange(ctx, b.keys.Leases(queue), 0, -1)
		return nil
	})
	if err != nil {
		return QueueStats{}, fmt.Errorf("broker: stats of %s: %w", queue, err)
	}
	st := QueueStats{Pending: p.Val(), Scheduled: s.Val()}
	if st.Leased, err = b.leased(ctx, queue, tokens.Val()); err != nil {
		return QueueStats{}, fmt.Errorf("broker: stats of %s: %w", queue, err)
	}
	return st, nil
}
