package tasks

import (
	"context"
	"encoding/json"

	"fmt"
	"maps"
	"slices"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

// submitBroadcast submits rs, a single broadcast request: a broadcast task
// is submitted alone, not in a batch.
//
// Its targets are fixed here: the workers live now (heartbeat within
// WorkerTimeout) that registered its name and serve its queue. They are
// read in one call and the task is written in another (the workers list
// and the queue are in different slots), so a worker that dies between
// the two is a target and is reported missing later, and one that starts
// between them is not a target. The task bypasses the queue's max_length
// and max_running, and takes no rate turn: it runs beside the queue, in
// each target's inbox.
func (c *Client) submitBroadcast(ctx context.Context, rs []Request) ([]results.Record, error) {
	if len(rs) > 1 {
		return nil, fmt.Errorf("%w: a broadcast task is submitted alone, not in a batch", ErrInvalid)
	}
	ts, err := c.prepare(ctx, rs)
	if err != nil {
		return nil, err
	}
	t := &ts[0]
	targets, err := c.broadcastTargets(ctx, t.Name, t.Queue)
	if err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("%w: %q in queue %q", ErrNoWorkers, t.Name, t.Queue)
	}
	if err := c.noteQueues(ctx, ts); err != nil {
		return nil, fmt.Errorf("tasks: submit broadcast: %w", unavailable(err))
	}
	created, err := c.b.EnqueueBroadcast(ctx, t, targets)
	if err != nil {
		return nil, fmt.Errorf("tasks: submit broadcast: %w", unavailable(err))
	}
	answers := make(map[string]results.WorkerAnswer, len(targets))
	for _, w := range targets {
		answers[w] = results.WorkerAnswer{Status: results.WorkerPending}
	}
	return []results.Record{{
		ID: t.ID, Name: t.Name, Queue: t.Queue, Status: results.StatusQueued,
		Payload: t.Payload, MaxRetries: t.MaxRetries, Timeout: t.Timeout, ResultTTL: t.ResultTTL,
		CreatedAt: created, Broadcast: &results.BroadcastResults{Targets: len(targets), Workers: answers},
	}}, nil
}

// broadcastTargets returns the IDs of the live workers that registered
// name and serve queue.
func (c *Client) broadcastTargets(ctx context.Context, name, queue string) ([]string, error) {
	live, err := c.b.Workers(ctx, WorkerTimeout)
	if err != nil {
		return nil, fmt.Errorf("tasks: submit broadcast: %w", unavailable(err))
	}
	return targetsOf(live, name, queue), nil
}

// targetsOf picks from live the workers that registered name and serve
// queue. A worker whose info does not decode is not a target.
func targetsOf(live []broker.LiveWorker, name, queue string) []string {
	var out []string
	for _, w := range live {
		var info WorkerInfo
		if json.Unmarshal(w.Info, &info) != nil {
			continue
		}
		if slices.Contains(info.Handlers, name) && slices.Contains(info.Queues, queue) {
			out = append(out, w.ID)
		}
	}
	return out
}

// hasBroadcast reports whether some request of rs asks for a broadcast.
func hasBroadcast(rs []Request) bool {
	return slices.ContainsFunc(rs, func(r Request) bool { return r.Broadcast })
}

// dropBroadcast clears away rec, a broadcast task just canceled: its ID
// leaves its targets' inboxes (a dead target's would keep it) and the
// queue's open broadcasts. A failure is left to the pools' maintenance,
// which does the same within a second.
func (c *Client) dropBroadcast(ctx context.Context, rec results.Record) {
	workers := slices.Collect(maps.Keys(rec.Broadcast.Workers))
	if _, err := c.b.DropBroadcast(ctx, rec.ID, rec.Queue, workers); err != nil {
		c.cfg.Logger.Warn("clearing away a canceled broadcast task failed", "task_id", rec.ID, "queue", rec.Queue, "err", err)
	}
}
