package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/runq/runq/broker/internal/layout"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/results"
)

// NewTask is a task for Enqueue to store.
type NewTask struct {
	// ID is set by Enqueue: a UUIDv7 carrying the slot of Queue (see
	// layout.NewID). A task resent by its caller keeps the ID it was given.
	ID         uuid.UUID
	Name       string
	Queue      string
	Payload    []byte // JSON
	MaxRetries int
	Timeout    time.Duration // per attempt
	ResultTTL  time.Duration // how long the hash lives once terminal
	// Delay holds the task back this long after Enqueue, on Redis's clock
	// (rounded up to a millisecond); RunAt until that time (to the
	// millisecond below), unless it is not after Redis's now. At most one
	// of them is set. A task held back is scheduled until then, out of its
	// queue's list.
	Delay time.Duration
	RunAt time.Time
	// Keys are the keys the task claims in Queue (an idempotency key, a
	// unique key, or both): Enqueue writes the task only if no other task
	// holds one of them, else returns a *ConflictError (enqueue_keyed.go).
	Keys []KeyClaim
	// CallbackURL, when set, is where a webhook delivers the task's final
	// record once it ends (see DueHooks); it is stored with the task.
	CallbackURL string
}

// Due returns when t falls due, had Enqueue created it at created (as
// Enqueue reports), and whether that is later, so that t was scheduled.
func (t NewTask) Due(created time.Time) (time.Time, bool) {
	var at int64
	switch {
	case !t.RunAt.IsZero():
		at = t.RunAt.UnixMilli()
	case t.Delay > 0:
		at = created.UnixMilli() + delayMillis(t.Delay)
	default:
		return time.Time{}, false
	}
	if at <= created.UnixMilli() {
		return time.Time{}, false
	}
	return time.UnixMilli(at).UTC(), true
}

// heldBack reports whether t asks to wait: enqueue.lua decides whether it
// does, on Redis's clock.
func (t NewTask) heldBack() bool { return t.Delay > 0 || !t.RunAt.IsZero() }

// dueSpec writes when t is due as enqueue.lua's schedule takes it.
func (t NewTask) dueSpec() string {
	if !t.RunAt.IsZero() {
		return strconv.FormatInt(t.RunAt.UnixMilli(), 10)
	}
	return "+" + strconv.FormatInt(delayMillis(t.Delay), 10)
}

// delayMillis is d in whole milliseconds, rounded up.
func delayMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// Enqueue stores each task's hash (status queued) and appends its ID to its
// queue, atomically per queue, giving each task without an ID a new one; a
// task held back (Delay, RunAt) is scheduled instead (see NewTask.Due). It
// returns the creation times on Redis's clock. It is idempotent by ID: a
// task whose hash exists keeps its creation time and is not queued twice. A
// single task is group-committed with concurrent calls (one round trip and
// one script call for all that arrive together); several go in one round
// trip, one script call per queue, each queue's tasks all or none.
//
// A queue with a max_length takes a task only while its pending list is
// shorter (the check and the push are one script call), else the call is
// refused with a *FullError, which matches ErrQueueFull, and nothing of it
// is queued: several tasks are all queued or none. A batch spanning
// several queues first holds room in each bounded one (see hold), so that
// it is not queued in some and refused in another.
func (b *Broker) Enqueue(ctx context.Context, ts []NewTask) ([]time.Time, error) {
	for i := range ts {
		t := &ts[i]
		if err := ValidQueue(t.Queue); err != nil {
			return nil, err
		}
		if t.ID == (uuid.UUID{}) {
			id, err := layout.NewID(t.Queue)
			if err != nil {
				return nil, err
			}
			t.ID = id
		}
	}
	if keyed(ts) {
		return b.enqueueKeyed(ctx, ts)
	}
	if len(ts) == 1 {
		r, err := b.enqueues.do(ctx, ts[0])
		if err == nil && r.full > 0 {
			err = &FullError{Queue: ts[0].Queue, MaxLength: r.full}
		}
		if err != nil {
			return nil, fmt.Errorf("broker: enqueue %s: %w", ts[0].ID, err)
		}
		return []time.Time{r.created}, nil
	}
	created, err := b.enqueueBatch(ctx, ts)
	if err != nil {
		return nil, fmt.Errorf("broker: enqueue %d tasks: %w", len(ts), err)
	}
	return created, nil
}

// enqueued is what enqueue.lua replied for one task: when it was created,
// or, when it was refused, the max_length of its full queue.
type enqueued struct {
	created time.Time
	full    int // > 0: refused
}

// enqueueBatch queues ts, all or none: one queue's tasks in one script
// call that refuses them together; several queues' after hold has held
// room in each bounded one.
func (b *Broker) enqueueBatch(ctx context.Context, ts []NewTask) ([]time.Time, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	groups := byQueue(ts, func(t NewTask) string { return t.Queue })
	bounds := []string{boundAll}
	if len(groups) > 1 {
		var err error
		if bounds, err = b.hold(ctx, ts, groups); err != nil {
			return nil, err
		}
	}
	rs, err := b.enqueueGroups(ctx, ts, groups, bounds)
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, len(ts))
	for i, r := range rs {
		if r.full > 0 { // under boundAll, the whole group was refused
			return nil, &FullError{Queue: ts[i].Queue, MaxLength: r.full}
		}
		out[i] = r.created
	}
	return out, nil
}

// enqueueFlush runs enqueue.lua once per queue of ts, in one round trip,
// for the group commit: each task of a full queue is refused on its own,
// as it came from a caller of its own.
func (b *Broker) enqueueFlush(ctx context.Context, ts []NewTask) ([]enqueued, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	groups := byQueue(ts, func(t NewTask) string { return t.Queue })
	return b.enqueueGroups(ctx, ts, groups, []string{boundEach})
}

// enqueueGroups runs enqueue.lua once per group of ts, in one round trip,
// with bounds[g] as group g's bound (the last bound stands for the groups
// after it).
func (b *Broker) enqueueGroups(ctx context.Context, ts []NewTask, groups [][]int, bounds []string) ([]enqueued, error) {
	cmds := make([]*redis.Cmd, len(groups))
	err := b.scriptPipeline(ctx, func(pipe redis.Pipeliner) error {
		for g, idx := range groups {
			keys, args := b.enqueueArgs(ts, idx, bounds[min(g, len(bounds)-1)])
			cmds[g] = enqueueScript.EvalSha(ctx, pipe, keys, args...)
		}
		return nil
	}, enqueueScript)
	if err != nil {
		return nil, err
	}
	out := make([]enqueued, len(ts))
	for g, idx := range groups {
		if err := readEnqueued(cmds[g], idx, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// schedule appends to enqueue.lua's keys and args for the tasks at idx,
// one queue's, the bound, and the schedule of those held back: the bound
// alone, or nothing for boundEach, when none is held back.
func (b *Broker) schedule(ts []NewTask, idx []int, keys []string, args []any, bound string) ([]string, []any) {
	scheduled := false
	for n, i := range idx {
		t := ts[i]
		if !t.heldBack() {
			continue
		}
		if !scheduled {
			scheduled = true
			named := bound
			if named == boundEach { // a schedule follows: the bound must be there
				named = "each"
			}
			keys = append(keys, b.keys.Scheduled(t.Queue))
			args = append(args, named, b.keys.Events(), t.Queue)
		}
		args = append(args, n+1, t.dueSpec())
	}
	if !scheduled && bound != boundEach {
		args = append(args, bound)
	}
	return keys, args
}

// readEnqueued reads enqueue.lua's reply for the tasks at idx into out:
// one time for all when every task was new and queued, -max_length for
// all when they were refused together, else one of either per task.
func readEnqueued(cmd *redis.Cmd, idx []int, out []enqueued) error {
	v, err := cmd.Result()
	if err != nil {
		return err
	}
	if all, ok := v.(int64); ok {
		for _, i := range idx {
			out[i] = enqueuedOf(all)
		}
		return nil
	}
	vals, err := cmd.Int64Slice()
	if err == nil && len(vals) != len(idx) {
		err = fmt.Errorf("enqueue.lua replied %d times for %d tasks", len(vals), len(idx))
	}
	if err != nil {
		return err
	}
	for j, i := range idx {
		out[i] = enqueuedOf(vals[j])
	}
	return nil
}

// enqueuedOf reads one value of enqueue.lua's reply.
func enqueuedOf(v int64) enqueued {
	if v < 0 {
		return enqueued{full: int(-v)}
	}
	return enqueued{created: time.UnixMilli(v).UTC()}
}

// Cancel cancels task id if it has not started, and returns its status
// after the call: canceled (also when it already was), or the status that
// prevented it (succeeded, failed), or running: the cancel of a running
// task is asked of the worker that runs it (EventCancel, and the cancels
// read by CancelRequests), which ends the attempt as canceled. A running
// broadcast task is canceled at once (canceled): its workers' runs are not
// interrupted, and their answers are ignored. A task that does not exist
// is results.ErrNotFound.
func (b *Broker) Cancel(ctx context.Context, id uuid.UUID) (results.Status, error) {
	if err := notRunqID("cancel", id); err != nil {
		return "", err
	}
	if err := b.check(ctx); err != nil {
		return "", err
	}
	queue, err := b.queueOf(ctx, id)
	if err != nil {
		return "", fmt.Errorf("broker: cancel %s: %w", id, err)
	}
	keys := []string{b.keys.Task(id), b.keys.Ended(queue, string(results.StatusCanceled)), b.keys.Pending(queue),
		b.keys.Scheduled(queue), b.keys.Held(queue), b.keys.Cancels(queue), b.keys.Hooks(queue)}
	status, err := cancelScript.Run(ctx, b.rdb, keys, layout.IDText(id), b.keys.Done(), b.keys.Events(), queue).Text()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("broker: cancel %s: %w", id, results.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("broker: cancel %s: %w", id, err)
	}
	return results.Status(status), nil
}

// queueOf reads the queue of task id from its hash: the scripts that end
// or retry a task write keys of its queue, which its ID alone does not
// name. An error wraps results.ErrNotFound when there is no such task.
func (b *Broker) queueOf(ctx context.Context, id uuid.UUID) (string, error) {
	m, err := b.rdb.HGet(ctx, b.keys.Task(id), layout.FieldMeta).Result()
	if errors.Is(err, redis.Nil) {
		return "", results.ErrNotFound
	}
	if err != nil {
		return "", err
	}
	pm, err := parseMeta(m)
	if err == nil {
		err = ValidQueue(pm.queue)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", results.ErrCorrupt, err)
	}
	return pm.queue, nil
}
