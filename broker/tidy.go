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
	keys := []string{b.keys.Log(queue), b.keys.LogBase(queue),
		b.keys.Ended(queue, string(results.StatusFailed)), b.keys.Ended(queue, string(results.StatusCanceled))}
	for range tidyChunks {
		ids, err := b.rdb.LRange(ctx, b.keys.Log(queue), 0, tidyChunk-1).Result()
		if err != nil {
			return td, fmt.Errorf("broker: tidy %s: %w", queue, err)
		}
		hashes, _, err := b.taskKeys(ids)
		if err != nil {
			return td, fmt.Errorf("broker: tidy %s: %w", queue, err)
		}
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		res, err := tidyScript.Run(ctx, b.rdb, append(keys[:4:4], hashes...), args...).Int64Slice()
		if err == nil && len(res) != 2 {
			err = fmt.Errorf("tidy.lua replied %d numbers, not 2", len(res))
		}
		if err != nil {
			return td, fmt.Errorf("broker: tidy %s: %w", queue, err)
		}
		td.Log += int(res[0])
		td.Ended += int(res[1])
		if res[0] < tidyChunk {
			return td, b.forgetMinutes(ctx, queue, time.Now())
		}
	}
	td.More = true
	return td, b.forgetMinutes(ctx, queue, time.Now())
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
