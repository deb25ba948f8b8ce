package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// A bounded queue takes submissions only while its pending list is
// shorter than its max_length (QueueSettings.MaxLength). enqueue.lua
// checks and pushes in one step, so racing submitters never overshoot.
// Only submissions are bounded: a retry scheduled for later is not in the
// list, and one that comes due, like a task an operator retries, joins it
// whatever its length.

// ErrQueueFull reports tasks refused because their queue holds its
// max_length of queued tasks. Nothing of the call was queued.
var ErrQueueFull = errors.New("broker: queue full")

// FullError is ErrQueueFull for one queue.
type FullError struct {
	Queue     string
	MaxLength int
}

func (e *FullError) Error() string {
	return fmt.Sprintf("broker: queue %s has no room (max_length %d)", e.Queue, e.MaxLength)
}

// Is makes errors.Is(err, ErrQueueFull) hold.
func (e *FullError) Is(target error) bool { return target == ErrQueueFull }

// Bounds of enqueue.lua: how a queue's max_length applies to one call.
const (
	boundEach = ""     // each task on its own: group-committed submissions (no argument)
	boundAll  = "all"  // the call's tasks together: a batch
	boundNone = "none" // no check: hold found no bound
)

// holdFor is how long hold keeps the places it held: the time a batch
// spanning several queues may take between its two round trips. Should
// its process die in between, the places are free again after it.
const holdFor = 30 * time.Second

// hold holds room in each bounded queue of a batch spanning several
// queues (groups of ts by queue), in one round trip, and returns each
// group's bound for enqueue.lua: boundNone for a queue with no max_length,
// else the token and count of the places held, which enqueue.lua gives
// back as it pushes. If any queue lacks room, it gives back what it held
// and returns that queue's *FullError: nothing was written. Held places
// count against max_length for every other submission meanwhile, which
// is what makes the batch all or nothing: a submission racing it is
// refused rather than the batch's second round trip.
func (b *Broker) hold(ctx context.Context, ts []NewTask, groups [][]int) ([]string, error) {
	return b.holdAs(ctx, newToken(), ts, groups)
}

// holdAs is hold under token.
func (b *Broker) holdAs(ctx context.Context, token string, ts []NewTask, groups [][]int) ([]string, error) {
	cmds := make([]*redis.Cmd, len(groups))
	err := b.scriptPipeline(ctx, func(pipe redis.Pipeliner) error {
		for g, idx := range groups {
			q := ts[idx[0]].Queue
			keys := make([]string, 0, 3+len(idx))
			keys = append(keys, b.keys.Settings(q), b.keys.Pending(q), b.keys.Reserved(q))
			for _, i := range idx {
				keys = append(keys, b.keys.Task(ts[i].ID))
			}
			cmds[g] = holdScript.EvalSha(ctx, pipe, keys, token, ms(holdFor))
		}
		return nil
	}, holdScript)
	bounds := make([]string, len(groups))
	var full *FullError
	for g, cmd := range cmds {
		v, cerr := cmd.Result()
		switch n, isInt := v.(int64); {
		case cerr != nil: // err, the pipeline's, says why
		case isInt && full == nil:
			full = &FullError{Queue: ts[groups[g][0]].Queue, MaxLength: int(-n)}
		case !isInt:
			bounds[g] = toString(v)
		}
	}
	if err == nil && full == nil {
		return bounds, nil
	}
	if rerr := b.release(ctx, ts, groups, bounds); rerr != nil {
		err = errors.Join(err, rerr) // what is not given back expires after holdFor
	}
	if err != nil {
		return nil, err
	}
	return nil, full
}

// release gives back the places hold held (bounds of the form tok:k).
func (b *Broker) release(ctx context.Context, ts []NewTask, groups [][]int, bounds []string) error {
	_, err := b.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for g, bound := range bounds {
			tok, k, ok := strings.Cut(bound, ":")
			n, _ := strconv.Atoi(k)
			if !ok || n < 1 {
				continue
			}
			members := make([]any, n)
			for i := range members {
				members[i] = tok + ":" + strconv.Itoa(i+1)
			}
			pipe.ZRem(ctx, b.keys.Reserved(ts[groups[g][0]].Queue), members...)
		}
		return nil
	})
	return err
}

// Room returns how many more tasks each of queues takes before it is full:
// its max_length less the length of its pending list (0 when full, or
// beyond), or -1 for a queue with no max_length; in one round trip of two
// commands a queue. Places held for a batch are not subtracted: it is a
// hint for submitters waiting for room, which learn by submitting.
func (b *Broker) Room(ctx context.Context, queues []string) ([]int, error) {
	type read struct {
		max *redis.StringCmd
		n   *redis.IntCmd
	}
	reads := make([]read, len(queues))
	_, err := b.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, q := range queues {
			reads[i] = read{pipe.HGet(ctx, b.keys.Settings(q), settingMaxLength), pipe.LLen(ctx, b.keys.Pending(q))}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("broker: room of %d queues: %w", len(queues), err)
	}
	out := make([]int, len(queues))
	for i, r := range reads {
		limit, err := strconv.Atoi(r.max.Val())
		if err != nil || limit <= 0 { // absent (or malformed): no bound, as parseSettings reads it
			out[i] = -1
			continue
		}
		out[i] = max(limit-int(r.n.Val()), 0)
	}
	return out, nil
}
