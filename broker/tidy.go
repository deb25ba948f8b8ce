package broker

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/runq/runq/results"
)

// Limits of one Tidy.
const (
	tidyChunk  = 500 // IDs of the log's head one tidy.lua call looks at
	tidyChunks = 100 // calls in one Tidy, at most
)

// Tidied counts what Tidy dropped.
type Tidied struct {
	Log   int  // IDs from the head of the log
	Ended int  // failed and canceled tasks whose records expired
	More  bool // the limit was reached: more may be left
}

// Tidy forgets what expired in queue's listing structures: the failed and
// canceled tasks whose records expired, the IDs at the head of its log
// whose tasks are gone (up to the first that is not: a long-lived task
// holds back the trimming of those queued after it, which List skips
// meanwhile), and the kept counts of minutes that are over. Every worker
// may tidy the same queue; tidy.lua trims only the head it was shown.
func (b *Broker) Tidy(ctx context.Context, queue string) (Tidied, error) {
	var td Tidied
	if err := ValidQueue(queue); err != nil {
		return td, err
	}
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	for _, s := range []results.Status{results.StatusFailed, results.StatusCanceled} {
		n, err := b.rdb.ZRemRangeByScore(ctx, b.keys.Ended(queue, string(s)), "-inf", "("+now).Result()
		if err != nil {
			return td, fmt.Errorf("broker: tidy %s: %w", queue, err)
		}
		td.Ended += int(n)
	}
	for range tidyChunks {
		n, err := b.tidyLog(ctx, queue)
		if err != nil {
			return td, fmt.Errorf("broker: tidy %s: %w", queue, err)
		}
		td.Log += n
		if n < tidyChunk {
			return td, b.forgetMinutes(ctx, queue, time.Now())
		}
	}
	td.More = true
	return td, b.forgetMinutes(ctx, queue, time.Now())
}

// tidyLog drops up to tidyChunk gone IDs from the head of queue's log and
// returns how many. One EXISTS over all their hashes (one slot: the
// queue's) finds the usual case, all gone; else halving finds where the
// gone ones end.
func (b *Broker) tidyLog(ctx context.Context, queue string) (int, error) {
	ids, err := b.rdb.LRange(ctx, b.keys.Log(queue), 0, tidyChunk-1).Result()
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	hashes, _, err := b.taskKeys(ids)
	if err != nil {
		return 0, err
	}
	gone := func(k int) (bool, error) {
		n, err := b.rdb.Exists(ctx, hashes[:k]...).Result()
		return n == 0, err
	}
	lo, hi := 0, len(ids)
	all, err := gone(hi)
	if err != nil {
		return 0, err
	}
	if all {
		lo = hi
	}
	for !all && hi-lo > 1 {
		mid := (lo + hi) / 2
		ok, err := gone(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return 0, nil
	}
	// 0 when another worker tidied first: the rest is left to it.
	n, err := tidyScript.Run(ctx, b.rdb, []string{b.keys.Log(queue), b.keys.LogBase(queue)}, lo, ids[0]).Int()
	if err != nil {
		return 0, fmt.Errorf("trim the log: %w", err)
	}
	return n, nil
}

// forgetMinutes deletes the kept hash's minutes that ended a minute or
// more before now (a clock a little behind Redis's drops nothing early).
func (b *Broker) forgetMinutes(ctx context.Context, queue string, now time.Time) error {
	minutes, err := b.rdb.HKeys(ctx, b.keys.Kept(queue)).Result()
	if err != nil {
		return fmt.Errorf("broker: tidy %s: %w", queue, err)
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
	if err := b.rdb.HDel(ctx, b.keys.Kept(queue), old...).Err(); err != nil {
		return fmt.Errorf("broker: tidy %s: %w", queue, err)
	}
	return nil
}
