package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
// is idempotent by ID.
func (b *Broker) Enqueue(ctx context.Context, t NewTask) (time.Time, error) {
	if err := ValidQueue(t.Queue); err != nil {
		return time.Time{}, err
	}
	keys := []string{b.keys.Task(t.ID), b.keys.Pending(t.Queue)}
	created, err := enqueueScript.Run(ctx, b.rdb, keys,
		t.ID.String(), t.Name, t.Queue, t.Payload,
		strconv.Itoa(t.MaxRetries), ms(t.Timeout), ms(t.ResultTTL)).Int64()
	if err != nil {
		return time.Time{}, fmt.Errorf("broker: enqueue %s: %w", t.ID, err)
	}
	return time.UnixMilli(created).UTC(), nil
}

// Cancel cancels the task id if it has not started, and returns its status
// after the call: "canceled", or the status that prevented it ("running",
// "succeeded", ...). It returns ErrNotFound when there is no such task.
func (b *Broker) Cancel(ctx context.Context, id uuid.UUID) (string, error) {
	status, err := cancelScript.Run(ctx, b.rdb, []string{b.keys.Task(id)},
		id.String(), b.keys.DoneChannel()).Text()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("broker: cancel %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("broker: cancel %s: %w", id, err)
	}
	return status, nil
}
