package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/results"
)

// Maintained counts what Maintain did on a queue.
type Maintained struct {
	Promoted int       // due retries moved to the queue
	NextDue  time.Time // when the next retry falls due; zero when none is scheduled
	Leases   int       // expired leases handed back
	Requeued int       // tasks of those leases handed back to the queue
	Poisoned int       // tasks failed after too many crash redeliveries
	More     bool      // a limit was reached: more may be waiting now
}

// Limits of one Maintain call.
const (
	promoteLimit = 1000 // due retries moved
	reapLimit    = 100  // expired leases handed back, each up to a claim's batch
)

// Maintain moves queue's retries whose time has come to the tail of the
// queue, and hands back the tasks of leases that expired (their worker died
// or lost Redis): an attempt that had started counts as a crash, and a task
// that crashes again after maxCrashes redeliveries is failed as poison
// (maxCrashes < 0 means no limit). Every step re-checks its deadlines in
// Redis, so any number of workers may maintain the same queue. A step that
// fails does not hold up the others: Maintain goes on and returns the
// errors with what it did.
func (b *Broker) Maintain(ctx context.Context, queue string, maxCrashes int) (Maintained, error) {
	var m Maintained
	res, err := promoteScript.Run(ctx, b.rdb,
		[]string{b.keys.Scheduled(queue), b.keys.Pending(queue)}, promoteLimit).Int64Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("promote.lua replied %d numbers, not 2", len(res))
	}
	if err != nil {
		err = fmt.Errorf("broker: promote due retries of %s: %w", queue, err)
	} else {
		m.Promoted, m.More = int(res[0]), res[0] == promoteLimit
		if res[1] >= 0 {
			m.NextDue = time.UnixMilli(res[1])
		}
	}
	return m, errors.Join(err, b.reap(ctx, queue, maxCrashes, &m))
}

// reap hands back the tasks of up to reapLimit expired leases of queue,
// counting them in m. Listing the expired leases with their IDs and handing
// them back are separate steps, because the handing back must declare each
// task's key; reap.lua re-checks each deadline, so a lease renewed in
// between is left alone.
func (b *Broker) reap(ctx context.Context, queue string, maxCrashes int, m *Maintained) error {
	tokens, err := expiredScript.Run(ctx, b.rdb, []string{b.keys.Leases(queue)}, reapLimit).StringSlice()
	if err != nil {
		return fmt.Errorf("broker: list expired leases of %s: %w", queue, err)
	}
	m.More = m.More || len(tokens) == reapLimit
	if len(tokens) == 0 {
		return nil
	}
	members := make([]*redis.StringSliceCmd, len(tokens))
	if _, err := b.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, tok := range tokens {
			members[i] = pipe.SMembers(ctx, b.keys.LeaseTasks(queue, tok))
		}
		return nil
	}); err != nil {
		return fmt.Errorf("broker: list the tasks of %d expired leases of %s: %w", len(tokens), queue, err)
	}
	var errs []error
	for i, tok := range tokens {
		requeued, poisoned, err := b.reapLease(ctx, queue, tok, members[i].Val(), maxCrashes)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m.Leases++
		m.Requeued += requeued
		m.Poisoned += poisoned
	}
	return errors.Join(errs...)
}

// reapLease runs reap.lua on the lease token, whose set held ids.
func (b *Broker) reapLease(ctx context.Context, queue, token string, ids []string, maxCrashes int) (requeued, poisoned int, err error) {
	taskKeys, _, err := b.taskKeys(ids)
	if err != nil {
		return 0, 0, fmt.Errorf("broker: reap lease %s of %s: %w", token, queue, err)
	}
	keys := append([]string{b.keys.Leases(queue), b.keys.Pending(queue), b.keys.LeaseTasks(queue, token),
		b.keys.Ended(queue, string(results.StatusFailed)), b.keys.Running(queue), b.keys.Held(queue),
		b.keys.Limits(queue), b.keys.Settings(queue)}, taskKeys...)
	args := make([]any, 0, 5+len(ids))
	args = append(args, maxCrashes, b.keys.Done(), token, b.keys.Events(), queue)
	for _, id := range ids {
		args = append(args, id)
	}
	res, err := reapScript.Run(ctx, b.rdb, keys, args...).Int64Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("reap.lua replied %d numbers, not 2", len(res))
	}
	if err != nil {
		return 0, 0, fmt.Errorf("broker: reap a lease of %d tasks of %s: %w", len(ids), queue, err)
	}
	return int(res[0]), int(res[1]), nil
}
