package broker

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/runq/runq/broker/internal/layout"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/results"
)

// Canceled ends an attempt whose cancel was asked while it ran: the task
// is terminal with status canceled, whatever the handler returned, and is
// not retried. Like every outcome it is written only while the attempt
// holds its lease.
const Canceled Outcome = "canceled"

// CancelRequests returns the tasks of queue whose cancel was asked since
// the time since (Redis clock), and the time to pass as since next, which
// lags behind Redis's clock a little so that nothing asked meanwhile is
// missed. A worker that missed the EventCancel of a task it runs (its
// subscription was down) learns of it here; it reads them when it renews
// its leases. The cancels are kept a day.
func (b *Broker) CancelRequests(ctx context.Context, queue string, since time.Time) ([]uuid.UUID, time.Time, error) {
	min := "-inf"
	if !since.IsZero() {
		min = strconv.FormatInt(since.UnixMilli(), 10)
	}
	var tm *redis.TimeCmd
	var r *redis.StringSliceCmd
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		tm = p.Time(ctx)
		r = p.ZRangeByScore(ctx, b.keys.Cancels(queue), &redis.ZRangeBy{Min: min, Max: "+inf"})
		return nil
	})
	if err != nil {
		return nil, since, fmt.Errorf("broker: read cancels of %s: %w", queue, err)
	}
	out := make([]uuid.UUID, 0, len(r.Val()))
	for _, s := range r.Val() {
		if id, err := layout.ParseIDText(s); err == nil {
			out = append(out, id)
		}
	}
	return out, tm.Val().Add(-time.Second), nil
}

// finishGroupKey groups outcomes for finish.lua: by queue, and the
// canceled apart, since finish.lua's fourth key is the sorted set that its
// terminal outcomes other than success join (endedBy), one per call.
func finishGroupKey(f Finish) string {
	if f.Outcome == Canceled {
		return f.Claimed.Queue + " x"
	}
	return f.Claimed.Queue
}

// endedBy returns the status whose sorted set the outcomes of one
// finish.lua call join when they end the task otherwise than succeeded.
func endedBy(o Outcome) results.Status {
	if o == Canceled {
		return results.StatusCanceled
	}
	return results.StatusFailed
}

// requeuing reports whether an attempt with outcome o puts its task back
// to run again (a retry or a release): finish.lua then checks whether the
// task's cancel was asked while it ran, and cancels it instead.
func requeuing(o Outcome) bool { return o == Retry || o == Release }

// hookOp reports whether finish.lua's op for f ends in "h": the task has a
// callback URL and f ends it (hooked), or f may end it, canceled, since a
// cancel was asked while it ran (requeuing).
func hookOp(f Finish) bool {
	return hooked(f) || (f.Claimed.hook && requeuing(f.Outcome))
}
