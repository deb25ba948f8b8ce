package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker/internal/layout"
	"github.com/runq/runq/results"
)

// A broadcast task runs once on each of the workers it targets, chosen by
// its submitter. Its ID waits in each target's inbox in the queue (a list,
// durable like the queue itself) until the worker starts it; each target's
// answer is kept in a hash beside the task's (layout BroadcastResults), and
// the task ends when every answer is final. It takes no lease: a target's
// heartbeat is its lease, and a target that stops reporting is answered for
// as missing (see OpenBroadcasts and AnswerBroadcast).

// EnqueueBroadcast stores the broadcast task t and puts its ID in the inbox
// of each of workers in t.Queue, giving t an ID when it has none; it
// returns the creation time on Redis's clock. Idempotent by ID. Delay and
// RunAt are not taken: a broadcast task is queued at once.
func (b *Broker) EnqueueBroadcast(ctx context.Context, t *NewTask, workers []string) (time.Time, error) {
	if err := ValidQueue(t.Queue); err != nil {
		return time.Time{}, err
	}
	if len(workers) == 0 || t.heldBack() {
		return time.Time{}, errors.New("broker: enqueue broadcast: want one or more workers, and no delay")
	}
	if t.ID == (uuid.UUID{}) {
		id, err := layout.NewID(t.Queue)
		if err != nil {
			return time.Time{}, err
		}
		t.ID = id
	}
	keys := make([]string, 0, 3+len(workers))
	keys = append(keys, b.keys.Task(t.ID), b.keys.BroadcastResults(t.ID), b.keys.Broadcasts(t.Queue))
	m := meta{maxRetries: t.MaxRetries, timeout: t.Timeout, resultTTL: t.ResultTTL, queue: t.Queue, name: t.Name}
	args := make([]any, 0, 5+len(workers))
	args = append(args, layout.IDText(t.ID), m.String(), pack(t.Payload), b.keys.Events(), t.Queue)
	for _, w := range workers {
		keys = append(keys, b.keys.Inbox(t.Queue, w))
		args = append(args, w)
	}
	ms, err := broadcastEnqueueScript.Run(ctx, b.rdb, keys, args...).Int64()
	if err != nil {
		return time.Time{}, fmt.Errorf("broker: enqueue broadcast %s: %w", t.ID, err)
	}
	return time.UnixMilli(ms).UTC(), nil
}

// BroadcastTask is a broadcast task a worker started from its inbox.
type BroadcastTask struct {
	ID      uuid.UUID
	Name    string
	Queue   string
	Payload []byte
	Timeout time.Duration
}

// StartBroadcast starts the oldest broadcast task in worker's inbox in
// queue that is still to run there, marking the worker's answer running,
// and returns it; nil when there is none. IDs of tasks that ended or whose
// answer is no longer pending leave the inbox on the way. A paused queue's
// inbox is not run: the error wraps ErrPaused.
func (b *Broker) StartBroadcast(ctx context.Context, queue, worker string) (*BroadcastTask, error) {
	inbox := b.keys.Inbox(queue, worker)
	for {
		head, err := b.rdb.LIndex(ctx, inbox, 0).Result()
		if errors.Is(err, redis.Nil) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("broker: read inbox of worker %s: %w", worker, err)
		}
		id, err := layout.ParseIDText(head)
		if err != nil { // not ours: drop it
			if err := b.rdb.LRem(ctx, inbox, 1, head).Err(); err != nil {
				return nil, fmt.Errorf("broker: read inbox of worker %s: %w", worker, err)
			}
			continue
		}
		keys := []string{b.keys.Task(id), b.keys.BroadcastResults(id), inbox, b.keys.Settings(queue)}
		reply, err := broadcastStartScript.Run(ctx, b.rdb, keys, head, worker).Result()
		if s, ok := reply.(string); ok && s == "paused" {
			return nil, fmt.Errorf("broker: start broadcast in %s: %w", queue, ErrPaused)
		}
		f, err := stringsOf(reply, err)
		if errors.Is(err, redis.Nil) {
			continue // ended, or not to run here: it left the inbox
		}
		if err == nil && len(f) != 2 {
			err = fmt.Errorf("reply of %d values, want 2", len(f))
		}
		if err != nil {
			return nil, fmt.Errorf("broker: start broadcast %s on worker %s: %w", id, worker, err)
		}
		t := &BroadcastTask{ID: id, Name: metaName(f[0]), Queue: queue}
		if m, err := parseMeta(f[0]); err == nil {
			t.Timeout = m.timeout
		}
		if t.Payload, err = unpack(f[1]); err != nil {
			t.Payload = nil
		}
		return t, nil
	}
}

// AnswerBroadcast records worker's answer to broadcast task id of queue:
// results.WorkerSucceeded with the result JSON as text, WorkerFailed with
// the error, both only while its answer is running; or WorkerMissing, with
// why, in place of a pending or running answer. It reports whether the
// answer was written, and whether it ended the task (the last answer).
// Writing nothing is no error: the answer was final already, or the task
// ended otherwise (canceled) or is gone.
func (b *Broker) AnswerBroadcast(ctx context.Context, id uuid.UUID, queue, worker string, status results.WorkerStatus, text string) (written, ended bool, err error) {
	if !status.Final() {
		return false, false, fmt.Errorf("broker: answer broadcast %s: status %q is not final", id, status)
	}
	keys := []string{b.keys.Task(id), b.keys.BroadcastResults(id), b.keys.Broadcasts(queue), b.keys.Inbox(queue, worker)}
	n, err := broadcastAnswerScript.Run(ctx, b.rdb, keys, layout.IDText(id), worker, string(status), text, b.keys.Done()).Int()
	if err != nil {
		return false, false, fmt.Errorf("broker: answer broadcast %s from worker %s: %w", id, worker, err)
	}
	return n > 0, n == 2, nil
}

// OpenBroadcast is a broadcast task of a queue that has not ended, with
// the answers of its targets so far.
type OpenBroadcast struct {
	ID      uuid.UUID
	Timeout time.Duration
	Answers map[string]results.WorkerAnswer // by worker ID

	// Ended is set for a task that ended otherwise (canceled) or is gone
	// since it was listed: DropBroadcast clears it away.
	Ended bool
}

// OpenBroadcasts returns up to limit of queue's broadcast tasks that have
// not ended, oldest first, in two round trips. A task that ended otherwise
// (canceled) or is gone is returned Ended, with the answers still stored.
func (b *Broker) OpenBroadcasts(ctx context.Context, queue string, limit int) ([]OpenBroadcast, error) {
	ids, err := b.rdb.ZRange(ctx, b.keys.Broadcasts(queue), 0, int64(limit)-1).Result()
	if err != nil || len(ids) == 0 {
		if err != nil {
			err = fmt.Errorf("broker: open broadcasts of %s: %w", queue, err)
		}
		return nil, err
	}
	out := make([]OpenBroadcast, 0, len(ids))
	metas := make([]*redis.SliceCmd, 0, len(ids))
	answers := make([]*redis.MapStringStringCmd, 0, len(ids))
	_, err = b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, raw := range ids {
			id, perr := layout.ParseIDText(raw)
			if perr != nil {
				continue
			}
			out = append(out, OpenBroadcast{ID: id})
			metas = append(metas, p.HMGet(ctx, b.keys.Task(id), layout.FieldStatus, layout.FieldMeta))
			answers = append(answers, p.HGetAll(ctx, b.keys.BroadcastResults(id)))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("broker: open broadcasts of %s: %w", queue, err)
	}
	for i := range out {
		f := metas[i].Val()
		out[i].Answers = decodeAnswers(answers[i].Val())
		s, _ := f[0].(string)
		if s != string(results.StatusQueued) && s != string(results.StatusRunning) {
			out[i].Ended = true // ended otherwise, or gone: to be dropped
			continue
		}
		if ms, _ := f[1].(string); ms != "" {
			if m, err := parseMeta(ms); err == nil {
				out[i].Timeout = m.timeout
			}
		}
	}
	return out, nil
}

// decodeAnswers reads a broadcast task's answers hash. An answer that does
// not parse is left out.
func decodeAnswers(h map[string]string) map[string]results.WorkerAnswer {
	out := make(map[string]results.WorkerAnswer, len(h))
	for w, v := range h {
		if a, ok := decodeAnswer(v); ok {
			out[w] = a
		}
	}
	return out
}

// decodeAnswer reads one answer, "status,started_ms,finished_ms,text".
func decodeAnswer(v string) (results.WorkerAnswer, bool) {
	parts := strings.SplitN(v, ",", 4)
	if len(parts) != 4 {
		return results.WorkerAnswer{}, false
	}
	a := results.WorkerAnswer{Status: results.WorkerStatus(parts[0])}
	for i, dst := range []*time.Time{&a.StartedAt, &a.FinishedAt} {
		ms, err := strconv.ParseInt(parts[1+i], 10, 64)
		if err != nil {
			return results.WorkerAnswer{}, false
		}
		if ms > 0 {
			*dst, _ = msTime(ms)
		}
	}
	switch a.Status {
	case results.WorkerSucceeded:
		a.Result = []byte(parts[3])
	case results.WorkerFailed, results.WorkerMissing:
		a.Error = parts[3]
	}
	return a, true
}

// withBroadcast adds the answers of broadcast task id to rec, read in a
// round trip of their own: only a broadcast task's record costs it.
func (b *Broker) withBroadcast(ctx context.Context, id uuid.UUID, h map[string]string, rec *results.Record) error {
	n, ok := h[layout.FieldBroadcast]
	if !ok {
		return nil
	}
	targets, _ := strconv.Atoi(n)
	raw, err := b.rdb.HGetAll(ctx, b.keys.BroadcastResults(id)).Result()
	if err != nil {
		return fmt.Errorf("broker: get %s: %w", id, err)
	}
	rec.Broadcast = &results.BroadcastResults{Targets: targets, Workers: decodeAnswers(raw)}
	return nil
}

// Inbox returns the IDs of the broadcast tasks waiting in worker's inbox in
// queue, oldest first: those a stopping worker answers for as missing.
func (b *Broker) Inbox(ctx context.Context, queue, worker string) ([]uuid.UUID, error) {
	raw, err := b.rdb.LRange(ctx, b.keys.Inbox(queue, worker), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("broker: read inbox of worker %s: %w", worker, err)
	}
	ids := make([]uuid.UUID, 0, len(raw))
	for _, s := range raw {
		if id, err := layout.ParseIDText(s); err == nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// EventBroadcast is the Event of a broadcast task put in the inboxes of
// its targets in the queue: they look in their inboxes.
const EventBroadcast = "broadcast"

// stringsOf reads a script's reply of strings.
func stringsOf(reply any, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	vs, ok := reply.([]any)
	if !ok {
		return nil, fmt.Errorf("reply %T, want an array", reply)
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		if out[i], ok = v.(string); !ok {
			return nil, fmt.Errorf("reply value %T, want a string", v)
		}
	}
	return out, nil
}
