package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker/internal/layout"
	"github.com/runq/runq/results"
)

// Retry queues task id again if it failed or was canceled, keeping its ID,
// its attempts and its last error. It returns StatusRetried when it did,
// or else the status that prevented it (queued again for a resent call;
// StatusBroadcast for a broadcast task, never retried). A task that does not exist is
// results.ErrNotFound. The retried task runs once more under its retry
// policy: its failures so far still count.
func (b *Broker) Retry(ctx context.Context, id uuid.UUID) (results.Status, error) {
	if err := notRunqID("retry", id); err != nil {
		return "", err
	}
	if err := b.check(ctx); err != nil {
		return "", err
	}
	q, err := b.queueOf(ctx, id)
	if err != nil {
		return "", fmt.Errorf("broker: retry %s: %w", id, err)
	}
	keys := []string{b.keys.Task(id), b.keys.Pending(q), b.keys.Scheduled(q),
		b.keys.Ended(q, string(results.StatusFailed)), b.keys.Ended(q, string(results.StatusCanceled))}
	status, err := retryScript.Run(ctx, b.rdb, keys, layout.IDText(id)).Text()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("broker: retry %s: %w", id, results.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("broker: retry %s: %w", id, err)
	}
	return results.Status(status), nil
}

// StatusRetried is what Retry returns for a task it queued again: not a
// status a task is ever in.
const StatusRetried results.Status = "retried"

// StatusBroadcast is what Retry returns for a broadcast task, which is
// not retried: its targets were the live workers of its submission.
const StatusBroadcast results.Status = "broadcast"

// purgeChunk is how many tasks one purge script call deletes.
const purgeChunk = 500

// Purge deletes queue's tasks of status: succeeded, failed or canceled
// (those kept), or queued (waiting in the queue). It returns how many it
// deleted. Tasks that arrive while it runs may stay: it stops once it has
// gone through as many as the queue held when it began. Each step is
// atomic, and a task that changes status meanwhile is left alone.
func (b *Broker) Purge(ctx context.Context, queue string, status results.Status) (int64, error) {
	if err := ValidQueue(queue); err != nil {
		return 0, err
	}
	if err := b.check(ctx); err != nil {
		return 0, err
	}
	var n int64
	var err error
	switch status {
	case results.StatusFailed, results.StatusCanceled:
		n, err = b.purgeEnded(ctx, queue, string(status))
	case results.StatusSucceeded:
		n, err = b.purgeSucceeded(ctx, queue)
	case results.StatusQueued:
		n, err = b.purgeQueued(ctx, queue)
	default:
		return 0, fmt.Errorf("broker: purge: status %q: %w", status, ErrBadStatus)
	}
	if err != nil {
		return n, fmt.Errorf("broker: purge %s tasks of %s: %w", status, queue, err)
	}
	return n, nil
}

// ErrBadStatus reports a status that an operation does not take.
var ErrBadStatus = errors.New("broker: status not allowed here")

// purgeEnded purges the failed or canceled tasks (status), oldest to
// expire first.
func (b *Broker) purgeEnded(ctx context.Context, queue, status string) (int64, error) {
	set := b.keys.Ended(queue, status)
	total, err := b.rdb.ZCard(ctx, set).Result()
	if err != nil {
		return 0, err
	}
	var n int64
	for seen := int64(0); seen < total; {
		ids, err := b.rdb.ZRange(ctx, set, 0, purgeChunk-1).Result()
		if err != nil || len(ids) == 0 {
			return n, err
		}
		d, err := b.purgeIDs(ctx, set, status, ids)
		if err != nil {
			return n, err
		}
		n += d
		seen += int64(len(ids))
	}
	return n, nil
}

// purgeSucceeded purges the succeeded tasks, found by walking the log from
// its head.
func (b *Broker) purgeSucceeded(ctx context.Context, queue string) (int64, error) {
	var n int64
	for at := int64(0); ; at += purgeChunk {
		ids, err := b.rdb.LRange(ctx, b.keys.Log(queue), at, at+purgeChunk-1).Result()
		if err != nil || len(ids) == 0 {
			return n, err
		}
		d, err := b.purgeIDs(ctx, b.keys.Kept(queue), string(results.StatusSucceeded), ids)
		if err != nil {
			return n, err
		}
		n += d
	}
}

// purgeIDs runs purge.lua on the tasks ids of status, listed in set.
func (b *Broker) purgeIDs(ctx context.Context, set, status string, ids []string) (int64, error) {
	keys, _, err := b.taskKeys(ids)
	if err != nil {
		return 0, err
	}
	all := make([]string, 0, 1+2*len(keys))
	all = append(append(all, set), keys...)
	for _, k := range keys {
		all = append(all, k+layout.BroadcastSuffix)
	}
	args := make([]any, 0, 1+len(ids))
	args = append(args, status)
	for _, id := range ids {
		args = append(args, id)
	}
	return purgeScript.Run(ctx, b.rdb, all, args...).Int64()
}

// purgeQueued purges the tasks waiting in queue, from its head, then
// those held for a slot of their name's cap.
func (b *Broker) purgeQueued(ctx context.Context, queue string) (int64, error) {
	n, err := b.purgeList(ctx, queue)
	if err != nil {
		return n, err
	}
	held, err := b.purgeHeld(ctx, queue)
	return n + held, err
}

// purgeHeld purges the tasks of queue held for a slot of their name's cap.
func (b *Broker) purgeHeld(ctx context.Context, queue string) (int64, error) {
	set := b.keys.Held(queue)
	total, err := b.rdb.ZCard(ctx, set).Result()
	if err != nil {
		return 0, err
	}
	var n int64
	for seen := int64(0); seen < total; {
		members, err := b.rdb.ZRange(ctx, set, 0, purgeChunk-1).Result()
		if err != nil || len(members) == 0 {
			return n, err
		}
		ids := make([]string, len(members))
		args := make([]any, len(members))
		for i, m := range members {
			_, ids[i], _ = strings.Cut(m, " ")
			args[i] = m
		}
		keys, _, err := b.taskKeys(ids)
		if err != nil {
			return n, err
		}
		d, err := purgeHeldScript.Run(ctx, b.rdb, append([]string{set}, keys...), args...).Int64()
		if err != nil {
			return n, err
		}
		n += d
		seen += int64(len(members))
	}
	return n, nil
}

// purgeList purges the tasks waiting in queue's list, from its head.
func (b *Broker) purgeList(ctx context.Context, queue string) (int64, error) {
	list := b.keys.Pending(queue)
	total, err := b.rdb.LLen(ctx, list).Result()
	if err != nil {
		return 0, err
	}
	var n int64
	for seen := int64(0); seen < total; {
		ids, err := b.rdb.LRange(ctx, list, 0, purgeChunk-1).Result()
		if err != nil || len(ids) == 0 {
			return n, err
		}
		keys, _, err := b.taskKeys(ids)
		if err != nil {
			return n, err
		}
		res, err := purgeQueuedScript.Run(ctx, b.rdb, append([]string{list}, keys...), anys(ids)...).Int64Slice()
		if err == nil && len(res) != 2 {
			err = fmt.Errorf("purge_queued.lua replied %d numbers, not 2", len(res))
		}
		if err != nil {
			return n, err
		}
		n += res[1]
		// Nothing removed: workers took the head meanwhile; read it again,
		// counting the read so that a busy queue cannot hold the loop.
		seen += max(res[0], 1)
	}
	return n, nil
}
