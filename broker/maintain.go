package broker

import (
	"context"
	"fmt"
	"time"
)

// Promote moves up to limit tasks of queue whose retry time has come to the
// tail of its queue. It returns how many moved and when the next scheduled
// task falls due (the zero Time when none is scheduled).
func (b *Broker) Promote(ctx context.Context, queue string, limit int) (int, time.Time, error) {
	res, err := promoteScript.Run(ctx, b.rdb,
		[]string{b.keys.Scheduled(queue), b.keys.Pending(queue)}, limit).Int64Slice()
	if err != nil || len(res) != 2 {
		return 0, time.Time{}, fmt.Errorf("broker: promote in %s: %w", queue, err)
	}
	var next time.Time
	if res[1] >= 0 {
		next = time.UnixMilli(res[1])
	}
	return int(res[0]), next, nil
}

// Reaped counts what Reap did.
type Reaped struct {
	Requeued int // handed back to the queue
	Poisoned int // failed after too many crash redeliveries
}

// Reap hands back to their queue up to limit tasks of queue whose lease
// expired: their worker died or lost Redis. An attempt that had started
// counts as a crash; a task that crashes again after maxCrashes redeliveries
// is failed as poison (maxCrashes < 0 means no limit). Listing the expired
// IDs and handing them back are two steps, because the handing back must
// declare each task's key; the second step re-checks every deadline, so a
// lease renewed in between is left alone.
func (b *Broker) Reap(ctx context.Context, queue string, limit, maxCrashes int) (Reaped, error) {
	ids, err := expiredScript.Run(ctx, b.rdb, []string{b.keys.Leases(queue)}, limit).StringSlice()
	if err != nil {
		return Reaped{}, fmt.Errorf("broker: list expired leases of %s: %w", queue, err)
	}
	if len(ids) == 0 {
		return Reaped{}, nil
	}
	taskKeys, _, err := b.taskKeys(ids)
	if err != nil {
		return Reaped{}, err
	}
	keys := append([]string{b.keys.Leases(queue), b.keys.Owners(queue), b.keys.Pending(queue)}, taskKeys...)
	args := make([]any, 0, 2+len(ids))
	args = append(args, maxCrashes, b.keys.DoneChannel())
	for _, id := range ids {
		args = append(args, id)
	}
	res, err := reapScript.Run(ctx, b.rdb, keys, args...).Int64Slice()
	if err != nil || len(res) != 2 {
		return Reaped{}, fmt.Errorf("broker: reap %d leases of %s: %w", len(ids), queue, err)
	}
	return Reaped{Requeued: int(res[0]), Poisoned: int(res[1])}, nil
}
