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
	Promoted int       // due tasks (held back, or retries) moved to the queue
	Due      int       // due tasks found: Promoted, and those another worker moved meanwhile
	NextDue  time.Time // when the next scheduled task falls due (Redis clock); zero when none is
	// NextIn is how long after the call NextDue is, measured on Redis's
	// clock, so that a caller can sleep until then whatever its own
	// clock's offset; 0 when none is scheduled.
	NextIn   time.Duration
	Leases   int  // expired leases handed back
	Requeued int  // tasks of those leases handed back to the queue
	Poisoned int  // tasks failed after too many crash redeliveries
	More     bool // a limit was reached: more may be waiting now
	// Canceled counts the started tasks of expired leases whose cancel
	// was asked while they ran: canceled rather than handed back.
	Canceled int
}

// Limits of one Maintain call.
const (
	promoteLimit = 1000 // due tasks moved
	reapLimit    = 100  // expired leases handed back, each up to a claim's batch
)

// Maintain moves queue's scheduled tasks whose time has come (tasks held
// back, now queued, and retries) to the tail of the queue, and hands back
// the tasks of leases that expired (their worker died or lost Redis): an
// attempt that had started counts as a crash, and a task that crashes
// again after maxCrashes redeliveries is failed as poison (maxCrashes < 0
// means no limit). Every step re-checks its deadlines in Redis, so any
// number of workers may maintain the same queue. A step that fails does
// not hold up the others: Maintain goes on and returns the errors with
// what it did.
func (b *Broker) Maintain(ctx context.Context, queue string, maxCrashes int) (Maintained, error) {
	var m Maintained
	err := b.promote(ctx, queue, &m)
	return m, errors.Join(err, b.reap(ctx, queue, maxCrashes, &m))
}

// Promote is the first step of Maintain alone: it moves queue's scheduled
// tasks whose time has come to the tail of the queue. A maintainer woken
// for a due time calls it, and leaves reaping to its regular round: when
// tasks fall due every millisecond, that saves a round trip each.
func (b *Broker) Promote(ctx context.Context, queue string) (Maintained, error) {
	var m Maintained
	err := b.promote(ctx, queue, &m)
	return m, err
}

// promote moves up to promoteLimit due tasks of queue into its list,
// counting them in m. Listing the due IDs and moving them are separate
// steps, because the move must declare each task's key (it turns a
// scheduled task queued); promote.lua re-checks each score, so what
// another worker moved in between is left alone. When nothing is due, as
// on most calls, the listing is the only round trip.
func (b *Broker) promote(ctx context.Context, queue string, m *Maintained) error {
	reply, err := dueScript.Run(ctx, b.rdb, []string{b.keys.Scheduled(queue)}, promoteLimit).Slice()
	var now, next int64
	var ids []string
	if err == nil {
		now, next, ids, err = dueReply(reply)
	}
	if err != nil {
		return fmt.Errorf("broker: list due tasks of %s: %w", queue, err)
	}
	if next >= 0 {
		m.NextDue, m.NextIn = time.UnixMilli(next), time.Duration(next-now)*time.Millisecond
	}
	m.Due, m.More = len(ids), len(ids) == promoteLimit
	if len(ids) == 0 {
		return nil
	}
	taskKeys, _, err := b.taskKeys(ids)
	if err != nil {
		return fmt.Errorf("broker: promote due tasks of %s: %w", queue, err)
	}
	keys := append([]string{b.keys.Scheduled(queue), b.keys.Pending(queue)}, taskKeys...)
	n, err := promoteScript.Run(ctx, b.rdb, keys, anys(ids)...).Int()
	if err != nil {
		return fmt.Errorf("broker: promote %d due tasks of %s: %w", len(ids), queue, err)
	}
	m.Promoted = n
	return nil
}

// dueReply reads due.lua's reply: {now_ms, next_ms, id...}.
func dueReply(reply []any) (now, next int64, ids []string, err error) {
	if len(reply) < 2 {
		return 0, 0, nil, fmt.Errorf("due.lua replied %d entries, want at least 2", len(reply))
	}
	now, ok1 := reply[0].(int64)
	next, ok2 := reply[1].(int64)
	if !ok1 || !ok2 {
		return 0, 0, nil, fmt.Errorf("due.lua replied %v and %v for its times", reply[0], reply[1])
	}
	ids = make([]string, len(reply)-2)
	for i, v := range reply[2:] {
		if ids[i], ok1 = v.(string); !ok1 {
			return 0, 0, nil, fmt.Errorf("due.lua replied %T for an ID", v)
		}
	}
	return now, next, ids, nil
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
		n, err := b.reapLease(ctx, queue, tok, members[i].Val(), maxCrashes)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m.Leases++
		m.Requeued += n.Requeued
		m.Poisoned += n.Poisoned
		m.Canceled += n.Canceled
	}
	return errors.Join(errs...)
}

// reapLease runs reap.lua on the lease token, whose set held ids, and
// returns its counts in n's Requeued, Poisoned and Canceled.
func (b *Broker) reapLease(ctx context.Context, queue, token string, ids []string, maxCrashes int) (n Maintained, err error) {
	taskKeys, _, err := b.taskKeys(ids)
	if err != nil {
		return n, fmt.Errorf("broker: reap lease %s of %s: %w", token, queue, err)
	}
	keys := append([]string{b.keys.Leases(queue), b.keys.Pending(queue), b.keys.LeaseTasks(queue, token),
		b.keys.Ended(queue, string(results.StatusFailed)), b.keys.Running(queue), b.keys.Held(queue),
		b.keys.Limits(queue), b.keys.Settings(queue), b.keys.Ended(queue, string(results.StatusCanceled))}, taskKeys...)
	keys = append(keys, b.keys.Hooks(queue))
	args := make([]any, 0, 6+len(ids))
	args = append(args, maxCrashes, b.keys.Done(), token, b.keys.Events(), queue, ms(b.FailedTTL()))
	for _, id := range ids {
		args = append(args, id)
	}
	res, err := reapScript.Run(ctx, b.rdb, keys, args...).Int64Slice()
	if err == nil && len(res) != 3 {
		err = fmt.Errorf("reap.lua replied %d numbers, not 3", len(res))
	}
	if err != nil {
		return n, fmt.Errorf("broker: reap a lease of %d tasks of %s: %w", len(ids), queue, err)
	}
	n.Requeued, n.Poisoned, n.Canceled = int(res[0]), int(res[1]), int(res[2])
	return n, nil
}
