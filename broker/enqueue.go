package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// NewTask is a task as Enqueue stores it.
type NewTask struct {
	ID         uuid.UUID // from NewID(Queue)
	Name       string
	Queue      string
	Payload    []byte // JSON
	MaxRetries int
	Timeout    time.Duration // per attempt
	ResultTTL  time.Duration // how long the hash lives once terminal
}

// Enqueue stores t's hash with status queued and appends its ID to the
// queue, atomically. It returns the creation time on Redis's clock. Enqueue
// is idempotent by ID. Concurrent calls are group-committed: they share one
// round trip and one script call per queue.
func (b *Broker) Enqueue(ctx context.Context, t NewTask) (time.Time, error) {
	if err := ValidQueue(t.Queue); err != nil {
		return time.Time{}, err
	}
	created, err := b.enqueues.do(ctx, t)
	if err != nil {
		return time.Time{}, fmt.Errorf("broker: enqueue %s: %w", t.ID, err)
	}
	return created, nil
}

// EnqueueBatch stores tasks as Enqueue does, with one script call per queue
// in one round trip. Each queue's tasks are queued all or none.
func (b *Broker) EnqueueBatch(ctx context.Context, tasks []NewTask) ([]time.Time, error) {
	for _, t := range tasks {
		if err := ValidQueue(t.Queue); err != nil {
			return nil, err
		}
	}
	created, err := b.enqueueBatch(ctx, tasks)
	if err != nil {
		return nil, fmt.Errorf("broker: enqueue %d tasks: %w", len(tasks), err)
	}
	return created, nil
}

func (b *Broker) enqueueBatch(ctx context.Context, tasks []NewTask) ([]time.Time, error) {
	groups := byQueue(tasks, func(t NewTask) string { return t.Queue })
	cmds := make([]*redis.Cmd, len(groups))
	_, err := b.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for g, idx := range groups {
			keys := make([]string, 0, 1+len(idx))
			keys = append(keys, b.keys.Pending(tasks[idx[0]].Queue))
			args := make([]any, 0, 3*len(idx))
			for _, i := range idx {
				t := tasks[i]
				key := b.keys.Task(t.ID)
				keys = append(keys, key)
				meta := Meta{Options: Options{MaxRetries: t.MaxRetries, Timeout: t.Timeout, ResultTTL: t.ResultTTL},
					Queue: t.Queue, Name: t.Name}
				args = append(args, idOfKey(key), meta.String(), t.Payload)
			}
			cmds[g] = enqueueScript.EvalSha(ctx, pipe, keys, args...)
		}
		return nil
	})
	if isNoScript(err) {
		return b.enqueueBatchLoad(ctx, tasks)
	}
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, len(tasks))
	for g, idx := range groups {
		v, err := cmds[g].Result()
		if err != nil {
			return nil, err
		}
		if all, ok := v.(int64); ok { // every task was new
			for _, i := range idx {
				out[i] = time.UnixMilli(all).UTC()
			}
			continue
		}
		vals, err := cmds[g].Int64Slice()
		if err == nil && len(vals) != len(idx) {
			err = fmt.Errorf("enqueue.lua replied %d times for %d tasks", len(vals), len(idx))
		}
		if err != nil {
			return nil, err
		}
		for j, i := range idx {
			out[i] = time.UnixMilli(vals[j]).UTC()
		}
	}
	return out, nil
}

// enqueueBatchLoad loads the script (after a NOSCRIPT: a restarted or
// flushed Redis) and tries again.
func (b *Broker) enqueueBatchLoad(ctx context.Context, tasks []NewTask) ([]time.Time, error) {
	if err := enqueueScript.Load(ctx, b.rdb).Err(); err != nil {
		return nil, err
	}
	return b.enqueueBatch(ctx, tasks)
}

// Cancel cancels the task id if it has not started, and returns its status
// after the call: "canceled", or the status that prevented it ("running",
// "succeeded", ...). It returns ErrNotFound when there is no such task.
func (b *Broker) Cancel(ctx context.Context, id uuid.UUID) (string, error) {
	status, err := cancelScript.Run(ctx, b.rdb, []string{b.keys.Task(id)},
		IDText(id), b.keys.DoneChannel()).Text()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("broker: cancel %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("broker: cancel %s: %w", id, err)
	}
	return status, nil
}
