package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

// noteQueues records the queues of ts as known, once per queue in the
// life of the client: one round trip the first time a client submits to a
// queue, none after.
func (c *Client) noteQueues(ctx context.Context, ts []broker.NewTask) error {
	var fresh []string
	for _, t := range ts {
		if _, ok := c.queues.Load(t.Queue); !ok && !slices.Contains(fresh, t.Queue) {
			fresh = append(fresh, t.Queue)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	if err := c.b.AddQueues(ctx, fresh...); err != nil {
		return err
	}
	for _, q := range fresh {
		c.queues.Store(q, struct{}{})
	}
	return nil
}

// List returns a page of tasks, newest first, as opts select them. A bad
// filter or cursor is ErrInvalid, naming it.
func (c *Client) List(ctx context.Context, opts ListOptions) (TaskPage, error) {
	q, err := c.listQuery(ctx, opts)
	if err != nil {
		return TaskPage{}, err
	}
	if len(q.Queues) == 0 {
		return TaskPage{Tasks: []results.Record{}}, nil
	}
	recs, next, err := c.b.List(ctx, q)
	if errors.Is(err, broker.ErrBadCursor) {
		return TaskPage{}, fmt.Errorf("%w: cursor: %w", ErrInvalid, err)
	}
	if err != nil {
		return TaskPage{}, fmt.Errorf("tasks: list: %w", unavailable(err))
	}
	if recs == nil {
		recs = []results.Record{}
	}
	return TaskPage{Tasks: recs, NextCursor: next}, nil
}

// listQuery checks opts and makes the broker's query of them.
func (c *Client) listQuery(ctx context.Context, opts ListOptions) (broker.ListQuery, error) {
	q := broker.ListQuery{Status: opts.Status, Name: opts.Name, Limit: opts.Limit, Cursor: opts.Cursor}
	if q.Limit == 0 {
		q.Limit = DefaultListLimit
	}
	if q.Limit < 1 || q.Limit > MaxListLimit {
		return q, fmt.Errorf("%w: limit %d: must be 1 to %d", ErrInvalid, opts.Limit, MaxListLimit)
	}
	if q.Status != "" && !q.Status.Valid() {
		return q, fmt.Errorf("%w: status %q: must be one of %s", ErrInvalid, truncate(string(q.Status), 32), statusNames())
	}
	if q.Name != "" {
		if err := ValidName(q.Name); err != nil {
			return q, err
		}
	}
	if opts.Queue != "" {
		if err := broker.ValidQueue(opts.Queue); err != nil {
			return q, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		q.Queues = []string{opts.Queue}
		return q, nil
	}
	qs, err := c.b.Queues(ctx)
	if err != nil {
		return q, fmt.Errorf("tasks: list: %w", unavailable(err))
	}
	q.Queues = qs
	return q, nil
}

// statusNames lists every status, for error messages.
func statusNames() string {
	return "scheduled, queued, running, retrying, succeeded, failed, canceled"
}

// Queues describes every known queue (one a worker serves or a client
// submitted to), by name.
func (c *Client) Queues(ctx context.Context) ([]QueueInfo, error) {
	names, err := c.b.Queues(ctx)
	if err != nil {
		return nil, fmt.Errorf("tasks: queues: %w", unavailable(err))
	}
	out := make([]QueueInfo, 0, len(names))
	for _, name := range names {
		qi, err := c.Queue(ctx, name)
		if err != nil {
			return nil, err
		}
		out = append(out, qi)
	}
	return out, nil
}

// Queue describes one queue; a queue that holds nothing is all zeros.
func (c *Client) Queue(ctx context.Context, name string) (QueueInfo, error) {
	if err := broker.ValidQueue(name); err != nil {
		return QueueInfo{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	counts, err := c.b.Counts(ctx, name)
	if err != nil {
		return QueueInfo{}, fmt.Errorf("tasks: queue %s: %w", name, unavailable(err))
	}
	return queueInfo(name, counts, time.Now()), nil
}

// queueInfo makes a QueueInfo of counts read at now.
func queueInfo(name string, c broker.QueueCounts, now time.Time) QueueInfo {
	qi := QueueInfo{Name: name, Queued: c.Pending + c.Held, Scheduled: c.Scheduled, Running: c.Leased,
		Succeeded: c.Succeeded, Failed: c.Failed, Canceled: c.Canceled, Limits: nameLimitsOf(c.Names),
		QueueSettings: queueSettings(c.Settings)}
	if !c.OldestCreated.IsZero() {
		qi.OldestQueued = max(now.Sub(c.OldestCreated), 0).Round(time.Millisecond)
	}
	step := ThroughputStep.Milliseconds()
	last := now.UnixMilli() / step * step // the step now is in
	first := last - ThroughputSpan.Milliseconds() + step
	for at := first; at <= last; at += step {
		s := c.Steps[at]
		qi.History = append(qi.History, Throughput{At: time.UnixMilli(at).UTC(), Processed: s.Processed, Failed: s.Failed})
	}
	for at, s := range c.Steps {
		if at > now.UnixMilli()-time.Minute.Milliseconds()-step {
			qi.Processed1m += s.Processed
			qi.FailedAttempts1m += s.Failed
		}
		if at > now.UnixMilli()-time.Hour.Milliseconds()-step {
			qi.Processed1h += s.Processed
			qi.FailedAttempts1h += s.Failed
		}
	}
	return qi
}

// Workers describes the live workers, by ID.
func (c *Client) Workers(ctx context.Context) ([]WorkerInfo, error) {
	live, err := c.b.Workers(ctx, WorkerTimeout)
	if err != nil {
		return nil, fmt.Errorf("tasks: workers: %w", unavailable(err))
	}
	out := make([]WorkerInfo, 0, len(live))
	for _, w := range live {
		var wi WorkerInfo
		if err := json.Unmarshal(w.Info, &wi); err != nil {
			continue // a worker mid-write, or not runq's: not shown
		}
		wi.ID, wi.LastHeartbeat = w.ID, w.LastHeartbeat
		out = append(out, wi)
	}
	slices.SortFunc(out, func(a, b WorkerInfo) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Handlers lists the task names workers registered, by name, with their
// defaults.
func (c *Client) Handlers(ctx context.Context) ([]HandlerInfo, error) {
	h, err := c.b.Handlers(ctx)
	if err != nil {
		return nil, fmt.Errorf("tasks: handlers: %w", unavailable(err))
	}
	out := make([]HandlerInfo, 0, len(h))
	for name, enc := range h {
		var d handlerDefaults
		_ = json.Unmarshal([]byte(enc), &d) // unreadable defaults read as none, as submits take them
		out = append(out, HandlerInfo{Name: name, MaxRetries: d.MaxRetries, Timeout: d.Timeout, Rate: d.Rate, MaxRunning: d.MaxRunning})
	}
	slices.SortFunc(out, func(a, b HandlerInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Retry queues task id again if it failed or was canceled, keeping its ID,
// its attempts and its last error, and returns its record. It runs once
// more under its retry policy: failures so far still count, so a task that
// ran out of retries is not retried again if this attempt fails. Errors:
// ErrNotFound, ErrNotRetryable for any other status.
func (c *Client) Retry(ctx context.Context, id uuid.UUID) (results.Record, error) {
	if err := c.begin("retry"); err != nil {
		return results.Record{}, err
	}
	defer c.calls.RUnlock()
	status, err := c.b.Retry(ctx, id)
	if err != nil {
		return results.Record{}, fmt.Errorf("tasks: retry: %w", unavailable(err))
	}
	if status != broker.StatusRetried {
		return results.Record{}, fmt.Errorf("tasks: retry %s: %w (it is %s)", id, ErrNotRetryable, status)
	}
	return c.get(ctx, id)
}

// Purge deletes queue's tasks of status, which is succeeded, failed or
// canceled (those kept until their TTL), or queued; it returns how many
// it deleted. Tasks that arrive while it runs may stay.
func (c *Client) Purge(ctx context.Context, queue string, status results.Status) (int64, error) {
	if err := broker.ValidQueue(queue); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	switch status {
	case results.StatusSucceeded, results.StatusFailed, results.StatusCanceled, results.StatusQueued:
	default:
		return 0, fmt.Errorf("%w: status %q: purge takes succeeded, failed, canceled or queued", ErrInvalid, truncate(string(status), 32))
	}
	if err := c.begin("purge"); err != nil {
		return 0, err
	}
	defer c.calls.RUnlock()
	n, err := c.b.Purge(ctx, queue, status)
	if err != nil {
		return n, fmt.Errorf("tasks: purge: %w", unavailable(err))
	}
	return n, nil
}

// RetryQueue queues again every failed task of queue, each keeping its ID,
// its attempts and its last error as Retry does, and returns how many it
// queued. It works in atomic batches and may run beside workers and other
// calls: each task is queued once. Only status failed is taken (canceled
// tasks are retried one by one, with Retry): another is ErrInvalid.
func (c *Client) RetryQueue(ctx context.Context, queue string, status results.Status) (int64, error) {
	if err := broker.ValidQueue(queue); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if status != results.StatusFailed {
		return 0, fmt.Errorf("%w: status %q: a queue's tasks are retried in bulk by status failed", ErrInvalid, truncate(string(status), 32))
	}
	if err := c.begin("retry"); err != nil {
		return 0, err
	}
	defer c.calls.RUnlock()
	n, err := c.b.RetryQueue(ctx, queue, status)
	if err != nil {
		return n, fmt.Errorf("tasks: retry queue: %w", unavailable(err))
	}
	return n, nil
}
