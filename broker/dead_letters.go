package broker

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/results"
)

// SetFailedTTL sets how long the records of the tasks this broker fails
// are kept (their attempts ran out, their handler refused a retry, or they
// crashed once too often as poison): the longer of d and the task's own
// result TTL, so that a task that asked to be kept longer is; a task kept
// for good (a result TTL of 0) stays so. 0 means the task's result TTL
// alone. It applies to the failures the broker writes after the call; a
// pool sets it before it starts.
func (b *Broker) SetFailedTTL(d time.Duration) { b.failedTTL.Store(int64(max(d, 0))) }

// FailedTTL returns what SetFailedTTL set.
func (b *Broker) FailedTTL() time.Duration { return time.Duration(b.failedTTL.Load()) }

// failedKeep returns the TTL of the record of a task with result TTL
// resultTTL that fails: 0 (kept) when resultTTL is, else the longer of it
// and the failed TTL.
func (b *Broker) failedKeep(resultTTL time.Duration) time.Duration {
	if resultTTL <= 0 {
		return 0
	}
	return max(resultTTL, b.FailedTTL())
}

// retryChunk is how many failed tasks one retry_ended.lua call queues
// again at most.
const retryChunk = 500

// RetryQueue queues again every failed task of queue, keeping each one's
// ID, attempts and last error, as Retry does one by one, and returns how
// many it queued. It works in batches of retryChunk, each one atomic, from
// the task whose record expires first, and goes through the tasks that
// were failed when it began: a task that fails again meanwhile (a worker
// ran it at once) is not queued a second time by the same call, and
// neither is a task that another RetryQueue or Retry queued first, so
// calls may overlap each other and running workers. Only failed tasks are
// taken: status canceled (or any other) is ErrBadStatus, because a task
// canceled while queued may still hold a place deep in its queue, which
// only a search of the whole queue per task would find (Retry does that,
// for one task).
func (b *Broker) RetryQueue(ctx context.Context, queue string, status results.Status) (int64, error) {
	if err := ValidQueue(queue); err != nil {
		return 0, err
	}
	if status != results.StatusFailed {
		return 0, fmt.Errorf("broker: retry the %s tasks of %s: %w", status, queue, ErrBadStatus)
	}
	if err := b.check(ctx); err != nil {
		return 0, err
	}
	n, err := b.retryFailed(ctx, queue)
	if err != nil {
		return n, fmt.Errorf("broker: retry the failed tasks of %s: %w", queue, err)
	}
	return n, nil
}

// retryFailed queues again the failed tasks of queue whose records expire
// no later than the last one did when it began, at most as many as there
// were then.
func (b *Broker) retryFailed(ctx context.Context, queue string) (int64, error) {
	set := b.keys.Ended(queue, string(results.StatusFailed))
	last, err := b.rdb.ZRevRangeWithScores(ctx, set, 0, 0).Result()
	if err != nil || len(last) == 0 {
		return 0, err
	}
	total, err := b.rdb.ZCard(ctx, set).Result()
	if err != nil {
		return 0, err
	}
	upTo := "+inf" // a record kept for good
	if !math.IsInf(last[0].Score, 1) {
		upTo = strconv.FormatFloat(last[0].Score, 'f', -1, 64)
	}
	var n int64
	for seen := int64(0); seen < total; {
		ids, err := b.rdb.ZRangeByScore(ctx, set, &redis.ZRangeBy{Min: "-inf", Max: upTo, Count: retryChunk}).Result()
		if err != nil || len(ids) == 0 {
			return n, err
		}
		keys, _, err := b.taskKeys(ids)
		if err != nil {
			return n, err
		}
		d, err := retryEndedScript.Run(ctx, b.rdb, append([]string{set, b.keys.Pending(queue)}, keys...), anys(ids)...).Int64()
		if err != nil {
			return n, err
		}
		n += d
		seen += int64(len(ids))
	}
	return n, nil
}
