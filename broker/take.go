package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/runq/runq/broker/internal/layout"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Taken is the first half of a claim: tasks that take.lua leased under
// Token and start.lua has not yet marked running. A crash between the two
// halves leaves the tasks leased; reaping hands them back as they were.
type Taken struct {
	Queue string
	Token string   // the lease's token
	IDs   []string // leased, in queue order (unless a resent take answered)

	capped  bool // the lease counts against the queue's max_running
	limited bool // names of the queue have limits: the start checks them
}

// Errors of a take that the queue's settings refused: nothing was taken.
// They are not failures: a worker waits for the settings to change, or
// for a slot to free ("slot" event), before it takes from the queue again.
var (
	ErrPaused = errors.New("broker: queue paused")
	ErrAtCap  = errors.New("broker: queue runs its max_running tasks")
)

// Claimed is a task leased to a worker and marked running.
type Claimed struct {
	ID         uuid.UUID
	Queue      string
	Token      string // the lease token; every later write presents it
	Name       string
	Payload    []byte
	Attempts   int // including this one
	MaxRetries int
	Failures   int // earlier attempts that returned an error
	Crashes    int // earlier attempts whose worker was lost
	Timeout    time.Duration
	ResultTTL  time.Duration // how long the hash lives once terminal
	// Unreadable is set when the stored payload could not be read (see
	// pack): the attempt is to fail with it, without running.
	Unreadable error

	capped bool // its lease counts against the queue's max_running
	slot   bool // it holds a max_running slot of its name

	// Watched is set when an event stream followed the task as it
	// started: the worker notes the start and any outcome that does not
	// end the task in its stream (Note).
	Watched bool
	hook    bool // it has a callback URL: its end schedules a webhook
}

// Take leases up to n tasks from the head of queue for lease, in one
// atomic step (take.lua), so no task is ever outside both its queue and a
// lease. One lease, named by a fresh token, covers the whole batch. When
// head is the ID that WaitReady saw at the head of queue ("" for none) and
// that task is still first, Take also starts it, as StartTake would, and
// returns it in claimed: a worker woken by a lone task claims it in one
// round trip instead of two (unless names of the queue have limits: see
// take.lua). The other tasks taken are in the Taken (nil when there are
// none), and StartTake must follow. It returns nothing,
// without a call, when n is 0 or less. A head that is not an ID is
// ignored: it is only a hint. Take is not resent: when its reply is lost,
// reaping hands the tasks back once the lease expires, and counts a crash
// against a head that it started.
//
// The queue's settings gate the take (take.lua): a paused queue gives
// nothing (ErrPaused), nor does one that runs its max_running tasks
// (ErrAtCap); below its cap, a take gives at most as many tasks as it has
// slots free, and the tasks of its lease count against the cap until they
// finish or are handed back.
func (b *Broker) Take(ctx context.Context, queue string, n int, lease time.Duration, head string) (claimed []Claimed, t *Taken, err error) {
	if n <= 0 {
		return nil, nil, nil
	}
	t = &Taken{Queue: queue, Token: newToken()}
	keys := b.takeKeys(t)
	headID, herr := layout.ParseIDText(head)
	if head != "" && herr == nil {
		keys = append(keys, b.keys.Task(headID))
	}
	reply, err := takeScript.Run(ctx, b.rdb, keys, n, ms(lease), t.Token, "0").Slice()
	var ids []string
	var start []any
	if err == nil {
		ids, start, t.capped, t.limited, err = takeReply(reply)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("broker: take from %s: %w", queue, err)
	}
	if start != nil {
		claimed = started(t, []uuid.UUID{headID}, start)
	}
	if len(ids) == 0 {
		return claimed, nil, nil
	}
	t.IDs = ids
	return claimed, t, nil
}

// takeReply reads take.lua's reply: the IDs leased and not started, the
// head's start entries (nil when the head was not taken), whether the
// lease counts against the queue's max_running, and whether names of the
// queue have limits. A take that the settings refused is ErrPaused or
// ErrAtCap.
func takeReply(reply []any) (ids []string, start []any, capped, limited bool, err error) {
	if len(reply) < 1 || len(reply) > 3 {
		return nil, nil, false, false, fmt.Errorf("take.lua replied %d entries, want 1 to 3", len(reply))
	}
	list, ok := reply[0].([]any)
	if !ok {
		return nil, nil, false, false, fmt.Errorf("take.lua replied %T for its IDs", reply[0])
	}
	ids = make([]string, len(list))
	for i, v := range list {
		if ids[i], ok = v.(string); !ok {
			return nil, nil, false, false, fmt.Errorf("take.lua replied %T for an ID", v)
		}
	}
	if len(reply) >= 2 && reply[1] != nil {
		if start, ok = reply[1].([]any); !ok || len(start) != startFields {
			return nil, nil, false, false, fmt.Errorf("take.lua replied %v for the head's start", reply[1])
		}
	}
	if len(reply) == 3 {
		flags, _ := reply[2].(string)
		switch flags {
		case "paused":
			return nil, nil, false, false, ErrPaused
		case "at_cap":
			return nil, nil, false, false, ErrAtCap
		case "", "c", "l", "cl":
			capped, limited = strings.Contains(flags, "c"), strings.Contains(flags, "l")
		default:
			return nil, nil, false, false, fmt.Errorf("take.lua replied %v for its flags", reply[2])
		}
	}
	return ids, start, capped, limited, nil
}

// startTries bounds how often StartTake sends its round trip.
const startTries = 3

// StartTake marks t's tasks running under its lease (start.lua) and
// returns them, without the canceled and vanished ones (none when the
// lease is gone or its deadline has passed: reaping hands those tasks
// back); in the same round trip it takes up to n more tasks of t's queue,
// as Take does (next is nil when it took none), so that a worker that
// keeps one batch taken ahead claims in one round trip per batch instead
// of two. The start must follow the take: a script declares every key it
// touches, and the task keys are known only once the IDs are.
//
// Both scripts are idempotent by their tokens, so a failed round trip is
// resent as it was, up to three tries while ctx lasts (after NOSCRIPT,
// from a restarted Redis, the scripts are loaded first), rather than
// leaving the taken tasks leased until their lease expires. If every try
// fails, neither half may be assumed done or not done: reaping later hands
// back the tasks never started as they were, and counts a crash for those
// whose start was applied with its reply lost. When the queue's settings
// refuse the take (ErrPaused, ErrAtCap, as for Take), t's tasks started
// all the same: claimed holds them, with that error.
func (b *Broker) StartTake(ctx context.Context, t *Taken, n int, lease time.Duration) (claimed []Claimed, next *Taken, err error) {
	if n > 0 {
		next = &Taken{Queue: t.Queue, Token: newToken()}
	}
	err = ctx.Err()
	for try := 0; try < startTries && ctx.Err() == nil; try++ {
		if isNoScript(err) {
			if err = loadScripts(ctx, b.rdb, startScript, takeScript); err != nil {
				continue
			}
		}
		var ids []string
		var capped, limited bool
		if claimed, ids, capped, limited, err = b.startTake(ctx, t, next, n, lease, try > 0); err == nil {
			if len(ids) == 0 {
				return claimed, nil, nil
			}
			next.IDs, next.capped, next.limited = ids, capped, limited
			return claimed, next, nil
		}
		if errors.Is(err, ErrPaused) || errors.Is(err, ErrAtCap) {
			return claimed, nil, fmt.Errorf("broker: take from %s: %w", t.Queue, err)
		}
	}
	return nil, nil, fmt.Errorf("broker: start %d tasks and take %d of %s: %w", len(t.IDs), max(n, 0), t.Queue, err)
}

// startTake sends StartTake's round trip once; resend says that an earlier
// try may have been applied, so that take.lua looks for its lease first.
func (b *Broker) startTake(ctx context.Context, t, next *Taken, n int, lease time.Duration, resend bool) (
	claimed []Claimed, ids []string, capped, limited bool, err error) {
	again := "0"
	if resend {
		again = "1"
	}
	var keys []string
	var args []any
	var parsed []uuid.UUID
	if len(t.IDs) > 0 {
		if keys, args, parsed, err = b.startCall(t, resend); err != nil {
			return nil, nil, false, false, err
		}
	}
	var start, take *redis.Cmd
	_, err = b.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		if keys != nil {
			start = startScript.EvalSha(ctx, pipe, keys, args...)
		}
		if next != nil {
			take = takeScript.EvalSha(ctx, pipe, b.takeKeys(next), n, ms(lease), next.Token, again)
		}
		return nil
	})
	if err != nil {
		return nil, nil, false, false, err
	}
	if start != nil {
		rows, err := start.Slice()
		if err == nil && len(rows) < startFields*len(parsed) {
			err = fmt.Errorf("start.lua replied %d entries for %d tasks", len(rows), len(parsed))
		}
		if err != nil {
			return nil, nil, false, false, err
		}
		claimed = started(t, parsed, rows)
	}
	if take != nil {
		reply, err := take.Slice()
		if err == nil {
			ids, _, capped, limited, err = takeReply(reply)
		}
		if errors.Is(err, ErrPaused) || errors.Is(err, ErrAtCap) {
			return claimed, nil, false, false, err
		}
		if err != nil {
			return nil, nil, false, false, fmt.Errorf("take from %s: %w", next.Queue, err)
		}
	}
	return claimed, ids, capped, limited, nil
}

func (b *Broker) takeKeys(t *Taken) []string {
	return []string{b.keys.Pending(t.Queue), b.keys.Leases(t.Queue), b.keys.LeaseTasks(t.Queue, t.Token),
		b.keys.Settings(t.Queue), b.keys.Running(t.Queue)}
}

// startCall builds start.lua's keys and arguments for t, and parses its
// IDs; resend says the call may repeat one applied. The IDs are not sent:
// each is the end of its task's key. The gate's keys go only with a lease
// that counts against max_running or a queue whose names have limits (as
// the take said): a start of any other costs nothing more.
func (b *Broker) startCall(t *Taken, resend bool) (keys []string, args []any, parsed []uuid.UUID, err error) {
	taskKeys, parsed, err := b.taskKeys(t.IDs)
	if err != nil {
		return nil, nil, nil, err
	}
	q := t.Queue
	if !t.capped && !t.limited {
		keys = append([]string{b.keys.Leases(q), b.keys.LeaseTasks(q, t.Token)}, taskKeys...)
		return keys, []any{t.Token}, parsed, nil
	}
	keys = make([]string, 0, 8+len(taskKeys))
	keys = append(keys, b.keys.Leases(q), b.keys.LeaseTasks(q, t.Token), b.keys.Limits(q), b.keys.Running(q),
		b.keys.Held(q), b.keys.Rate(q), b.keys.Scheduled(q), b.keys.Settings(q))
	flags := []byte("g")
	for _, f := range []struct {
		on   bool
		flag byte
	}{{t.limited, 'l'}, {t.capped, 'c'}, {resend, 'r'}} {
		if f.on {
			flags = append(flags, f.flag)
		}
	}
	return append(keys, taskKeys...), []any{t.Token, string(flags), b.keys.Events(), q}, parsed, nil
}

// started reads start.lua's reply for t: startFields entries per ID of
// parsed (at least that many: the caller checks), all nil for a task
// dropped (canceled, finished or gone, held or booked a later turn), then
// the 1-based positions in parsed of the tasks that hold a max_running
// slot of their name.
func started(t *Taken, parsed []uuid.UUID, rows []any) []Claimed {
	var slots map[int]bool
	if extra := rows[startFields*len(parsed):]; len(extra) > 0 {
		slots = make(map[int]bool, len(extra))
		for _, v := range extra {
			if at, ok := v.(int64); ok {
				slots[int(at)-1] = true
			}
		}
		rows = rows[:startFields*len(parsed)]
	}
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
		m, err := parseMeta(toString(f[0]))
		if err != nil {
			m.name = metaName(toString(f[0]))
		}
		payload, hook, watched, perr := unpackTask(toString(f[1]))
		if perr != nil {
			perr = fmt.Errorf("broker: the stored payload is unreadable: %w", perr)
		}
		c := Claimed{
			ID:         parsed[i/startFields],
			Queue:      t.Queue,
			Token:      t.Token,
			Name:       m.name,
			Payload:    payload,
			Unreadable: perr,
			Attempts:   1,
			MaxRetries: m.maxRetries,
			Timeout:    m.timeout,
			ResultTTL:  m.resultTTL,
			capped:     t.capped,
			slot:       slots[i/startFields],
			Watched:    watched,
			hook:       hook,
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
// parseCount (an empty count is 0). A malformed count reads as 0, as a
// malformed option does.
func parseCounts(s string) (attempts, failures, crashes int) {
	a, rest, _ := strings.Cut(s, ",")
	f, c, _ := strings.Cut(rest, ",")
	attempts, _ = parseCount(a)
	failures, _ = parseCount(f)
	crashes, _ = parseCount(c)
	return attempts, failures, crashes
}
