package broker

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// tidyChunk is how many IDs at the head of a log one Tidy examines.
const tidyChunk = 200

// Tidy forgets what expired in queue's listing structures: the IDs at the
// head of its log whose tasks are gone (up to the first that is not: a
// long-lived task holds back the trimming of those queued after it, which
// List skips meanwhile), and the counts of the kept hash's minutes that
// are over. It returns how many log entries it dropped. Every worker may
// tidy the same queue; log_trim.lua drops only what it was shown.
func (b *Broker) Tidy(ctx context.Context, queue string) (int, error) {
	if err := ValidQueue(queue); err != nil {
		return 0, err
	}
	ids, err := b.rdb.LRange(ctx, b.keys.Log(queue), 0, tidyChunk-1).Result()
	if err != nil {
		return 0, fmt.Errorf("broker: tidy %s: %w", queue, err)
	}
	gone, err := b.leadingGone(ctx, ids)
	if err != nil {
		return 0, fmt.Errorf("broker: tidy %s: %w", queue, err)
	}
	trimmed := 0
	if gone > 0 {
		n, err := logTrimScript.Run(ctx, b.rdb, []string{b.keys.Log(queue), b.keys.LogBase(queue)}, gone, ids[0]).Int()
		if err != nil {
			return 0, fmt.Errorf("broker: tidy %s: trim the log: %w", queue, err)
		}
		trimmed = n
	}
	if err := b.forgetMinutes(ctx, queue, time.Now()); err != nil {
		return trimmed, fmt.Errorf("broker: tidy %s: %w", queue, err)
	}
	return trimmed, nil
}

// leadingGone counts the IDs at the start of ids whose tasks are gone.
func (b *Broker) leadingGone(ctx context.Context, ids []string) (int, error) {
	keys, _, err := b.taskKeys(ids)
	if err != nil {
		return 0, err
	}
	exists := make([]*redis.IntCmd, len(keys))
	if _, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			exists[i] = p.Exists(ctx, k)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	n := 0
	for n < len(exists) && exists[n].Val() == 0 {
		n++
	}
	return n, nil
}

// forgetMinutes deletes the kept hash's minutes that ended a minute or
// more before now (a clock a little behind Redis's drops nothing early).
func (b *Broker) forgetMinutes(ctx context.Context, queue string, now time.Time) error {
	minutes, err := b.rdb.HKeys(ctx, b.keys.Kept(queue)).Result()
	if err != nil {
		return err
	}
	var old []string
	for _, m := range minutes {
		if ms, err := strconv.ParseInt(m, 10, 64); err == nil && ms < now.Add(-time.Minute).UnixMilli() {
			old = append(old, m)
		}
	}
	if len(old) == 0 {
		return nil
	}
	return b.rdb.HDel(ctx, b.keys.Kept(queue), old...).Err()
}
