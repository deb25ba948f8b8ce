package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Promote moves up to limit tasks of queue whose retry time has come to the
// tail of its queue. It returns how many moved and when the next scheduled
// task falls due (the zero Time when none is scheduled).
func (b *Broker) Promote(ctx context.Context, queue string, limit int) (int, time.Time, error) {
	res, err := promoteScript.Run(ctx, b.rdb,
		[]string{b.keys.Scheduled(queue), b.keys.Pending(queue)}, limit).Int64Slice()
	if err != nil || len(res) != 2 {
		return 0, time.Time{}, fmt.Errorf("broker: promote in %s: %w", queue, err)
	}
	var next time.Time
	if res[1] >= 0 {
		next = time.UnixMilli(res[1])
	}
	return int(res[0]), next, nil
}

// Reaped counts what Reap did.
type Reaped struct {
	Leases   int // expired leases handed back
	Requeued int // tasks handed back to the queue
	Poisoned int // tasks failed after too many crash redeliveries
}

// Reap hands back to their queue the tasks of up to limit leases of queue
// that expired: their worker died or lost Redis. An attempt that had started
// counts as a crash; a task that crashes again after maxCrashes redeliveries
// is failed as poison (maxCrashes < 0 means no limit). Listing the expired
// leases with their IDs and handing them back are separate steps, because
// the handing back must declare each task's key; the last step re-checks
// each deadline, so a lease renewed in between is left alone. A lease that
// cannot be reaped does not hold up the others: Reap goes on and reports
// the first error with what it did.
func (b *Broker) Reap(ctx context.Context, queue string, limit, maxCrashes int) (Reaped, error) {
	expired, err := expiredScript.Run(ctx, b.rdb, []string{b.keys.Leases(queue)}, limit).StringSlice()
	if err != nil {
		return Reaped{}, fmt.Errorf("broker: list expired leases of %s: %w", queue, err)
	}
	var tokens, oldIDs []string
	for _, m := range expired {
		if len(m) == idTextLen { // a task ID: a per-task lease of an older build
			oldIDs = append(oldIDs, m)
		} else {
			tokens = append(tokens, m)
		}
	}
	var out Reaped
	var firstErr error
	keep := func(r Reaped, leases int, err error) {
		out.Requeued += r.Requeued
		out.Poisoned += r.Poisoned
		if err == nil {
			out.Leases += leases
		} else if firstErr == nil {
			firstErr = err
		}
	}
	if len(oldIDs) > 0 {
		r, err := b.reapOld(ctx, queue, oldIDs, maxCrashes)
		keep(r, len(oldIDs), err)
	}
	if len(tokens) > 0 {
		members := make([]*redis.StringSliceCmd, len(tokens))
		if _, err := b.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, tok := range tokens {
				members[i] = pipe.SMembers(ctx, b.keys.LeaseTasks(queue, tok))
			}
			return nil
		}); err != nil {
			keep(Reaped{}, 0, fmt.Errorf("broker: list the tasks of %d expired leases of %s: %w", len(tokens), queue, err))
			return out, firstErr
		}
		for i, tok := range tokens {
			r, err := b.reapLease(ctx, queue, tok, members[i].Val(), maxCrashes)
			keep(r, 1, err)
		}
	}
	return out, firstErr
}

// reapLease runs reap.lua on the lease token, whose set held ids.
func (b *Broker) reapLease(ctx context.Context, queue, token string, ids []string, maxCrashes int) (Reaped, error) {
	taskKeys, _, err := b.taskKeys(ids)
	if err != nil {
		return Reaped{}, fmt.Errorf("broker: reap lease %s of %s: %w", token, queue, err)
	}
	keys := append([]string{b.keys.Leases(queue), b.keys.Pending(queue), b.keys.LeaseTasks(queue, token)}, taskKeys...)
	args := make([]any, 0, 3+len(ids))
	args = append(args, maxCrashes, b.keys.DoneChannel(), token)
	for _, id := range ids {
		args = append(args, id)
	}
	return b.runReap(ctx, reapScript, keys, args, fmt.Sprintf("a lease of %d tasks", len(ids)), queue)
}

// reapOld runs reap_task.lua on expired per-task leases, which workers of
// builds before leases covered a batch leave when they die.
func (b *Broker) reapOld(ctx context.Context, queue string, ids []string, maxCrashes int) (Reaped, error) {
	taskKeys, _, err := b.taskKeys(ids)
	if err != nil {
		return Reaped{}, fmt.Errorf("broker: reap old leases of %s: %w", queue, err)
	}
	keys := append([]string{b.keys.Leases(queue), b.keys.oldOwners(queue), b.keys.Pending(queue)}, taskKeys...)
	args := make([]any, 0, 2+len(ids))
	args = append(args, maxCrashes, b.keys.DoneChannel())
	for _, id := range ids {
		args = append(args, id)
	}
	return b.runReap(ctx, reapTaskScript, keys, args, fmt.Sprintf("%d old per-task leases", len(ids)), queue)
}

// runReap runs a reaping script, which replies {requeued, failed}.
func (b *Broker) runReap(ctx context.Context, script *redis.Script, keys []string, args []any, what, queue string) (Reaped, error) {
	res, err := script.Run(ctx, b.rdb, keys, args...).Int64Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("the script replied %d numbers, not 2", len(res))
	}
	if err != nil {
		return Reaped{}, fmt.Errorf("broker: reap %s of %s: %w", what, queue, err)
	}
	return Reaped{Requeued: int(res[0]), Poisoned: int(res[1])}, nil
}
