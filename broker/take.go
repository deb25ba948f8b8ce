package broker

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Taken is the first half of a claim: tasks that take.lua leased under
// Token and start.lua has not yet marked running. A crash between the two
// halves leaves the tasks leased; reaping hands them back as they were.
type Taken struct {
	Queue string
	Token string   // the lease's token, fresh from NewTaken
	IDs   []string // leased; in queue order, unless a resent take answered; empty until a take fills it
}

// NewTaken returns an empty Taken of queue under a fresh lease token, for
// Take or StartTake to fill. Both scripts are idempotent by the token, so
// a call that failed may be resent with the same Taken.
func NewTaken(queue string) *Taken { return &Taken{Queue: queue, Token: newToken()} }

// Take leases up to n tasks from the head of t.Queue for lease, in one
// atomic step (take.lua), so no task is ever outside both its queue and a
// lease, and sets t.IDs. n <= 0 takes nothing, without a call.
func (b *Broker) Take(ctx context.Context, t *Taken, n int, lease time.Duration) error {
	if n <= 0 {
		return nil
	}
	ids, err := takeScript.Run(ctx, b.rdb, b.takeKeys(t), n, ms(lease), t.Token).StringSlice()
	if err != nil {
		return fmt.Errorf("broker: take from %s: %w", t.Queue, err)
	}
	t.IDs = ids
	return nil
}

// Start marks t's tasks running under its lease (start.lua) and returns
// them, without the canceled and vanished ones; none when the lease is gone
// or its deadline has passed (reaping hands those tasks back). It must
// follow the take: a script declares every key it touches, and the task
// keys are known only once the IDs are. It retries as StartTake does.
func (b *Broker) Start(ctx context.Context, t *Taken) ([]Claimed, error) {
	return b.StartTake(ctx, t, nil, 0, 0)
}

// startTries bounds how often StartTake sends its round trip.
const startTries = 3

// StartTake does Start(t) and, in the same round trip, Take(next, n,
// lease), so that a worker that keeps one batch taken ahead claims in one
// round trip per batch instead of two. next may be nil, or n 0, to start
// only. Both scripts are idempotent by their tokens, so a failed round trip
// is resent as it was, up to three tries while ctx lasts (after NOSCRIPT,
// from a restarted Redis, the scripts are loaded first), rather than
// leaving the taken tasks leased until their lease expires. If every try
// fails, neither half may be assumed done or not done: reaping later hands
// back the tasks never started as they were, and counts a crash for those
// whose start was applied with its reply lost.
func (b *Broker) StartTake(ctx context.Context, t, next *Taken, n int, lease time.Duration) ([]Claimed, error) {
	if len(t.IDs) == 0 && (next == nil || n <= 0) {
		return nil, nil
	}
	err := ctx.Err()
	for try := 0; try < startTries && ctx.Err() == nil; try++ {
		if isNoScript(err) {
			if err = loadScripts(ctx, b.rdb, startScript, takeScript); err != nil {
				continue
			}
		}
		var claimed []Claimed
		var ids []string
		if claimed, ids, err = b.startTake(ctx, t, next, n, lease); err == nil {
			if next != nil && n > 0 {
				next.IDs = ids
			}
			return claimed, nil
		}
	}
	return nil, fmt.Errorf("broker: start %d tasks and take %d of %s: %w", len(t.IDs), max(n, 0), t.Queue, err)
}

// loadScripts loads scripts into Redis's script cache.
func loadScripts(ctx context.Context, rdb redis.UniversalClient, scripts ...*redis.Script) error {
	for _, s := range scripts {
		if err := s.Load(ctx, rdb).Err(); err != nil {
			return err
		}
	}
	return nil
}

func (b *Broker) startTake(ctx context.Context, t, next *Taken, n int, lease time.Duration) ([]Claimed, []string, error) {
	var keys []string
	var args []any
	var parsed []uuid.UUID
	if len(t.IDs) > 0 {
		var err error
		if keys, args, parsed, err = b.startCall(t); err != nil {
			return nil, nil, err
		}
	}
	var start, take *redis.Cmd
	_, err := b.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		if keys != nil {
			start = startScript.EvalSha(ctx, pipe, keys, args...)
		}
		if next != nil && n > 0 {
			take = takeScript.EvalSha(ctx, pipe, b.takeKeys(next), n, ms(lease), next.Token)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var claimed []Claimed
	if start != nil {
		rows, err := start.Slice()
		if err == nil && len(rows) != startFields*len(parsed) {
			err = fmt.Errorf("start.lua replied %d entries for %d tasks", len(rows), len(parsed))
		}
		if err != nil {
			return nil, nil, err
		}
		claimed = started(t, parsed, rows)
	}
	var ids []string
	if take != nil {
		if ids, err = take.StringSlice(); err != nil {
			return nil, nil, fmt.Errorf("take from %s: %w", next.Queue, err)
		}
	}
	return claimed, ids, nil
}

func (b *Broker) takeKeys(t *Taken) []string {
	return []string{b.keys.Pending(t.Queue), b.keys.Leases(t.Queue), b.keys.LeaseTasks(t.Queue, t.Token)}
}

// startCall builds start.lua's keys and arguments for t, and parses its IDs.
// The IDs are not sent: each is the end of its task's key.
func (b *Broker) startCall(t *Taken) (keys []string, args []any, parsed []uuid.UUID, err error) {
	taskKeys, parsed, err := b.taskKeys(t.IDs)
	if err != nil {
		return nil, nil, nil, err
	}
	keys = append([]string{b.keys.Leases(t.Queue), b.keys.LeaseTasks(t.Queue, t.Token)}, taskKeys...)
	return keys, []any{t.Token}, parsed, nil
}

// started reads start.lua's reply for t, startFields entries per ID of
// parsed (its length is checked), all nil for a task dropped (canceled,
// finished or gone).
func started(t *Taken, parsed []uuid.UUID, rows []any) []Claimed {
	out := make([]Claimed, 0, len(rows)/startFields)
	for i := 0; i < len(rows); i += startFields {
		f := rows[i : i+startFields]
		if f[0] == nil {
			continue
		}
		// A malformed meta (written by hand, not by enqueue.lua) reads
		// as zero options, as a malformed number does: the pool's
		// defaults apply. Its name, if any, is kept, so the attempt fails
		// on a name no handler has rather than on nothing.
		meta, err := ParseMeta(toString(f[0]))
		if err != nil {
			_, _, meta.Name, _ = cutN(toString(f[0]))
		}
		c := Claimed{
			ID:         parsed[i/startFields],
			Queue:      t.Queue,
			Token:      t.Token,
			Name:       meta.Name,
			Payload:    []byte(toString(f[1])),
			Attempts:   1,
			MaxRetries: meta.MaxRetries,
			Timeout:    meta.Timeout,
			ResultTTL:  meta.ResultTTL,
		}
		if f[2] != nil {
			c.Attempts, c.Failures, c.Crashes = parseCounts(toString(f[2]))
		}
		out = append(out, c)
	}
	return out
}

// startFields is how many entries start.lua replies per task.
const startFields = 3

// parseCounts reads start.lua's "attempt,failures,crashes" with
// parseCount, as AttemptOf reads a count (an empty count is 0). A
// malformed count reads as 0, as a malformed option does.
func parseCounts(s string) (attempts, failures, crashes int) {
	a, rest, _ := strings.Cut(s, ",")
	f, c, _ := strings.Cut(rest, ",")
	attempts, _ = parseCount(a)
	failures, _ = parseCount(f)
	crashes, _ = parseCount(c)
	return attempts, failures, crashes
}
