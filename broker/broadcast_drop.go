package broker

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/runq/runq/broker/internal/layout"
)

// DropBroadcast clears away broadcast task id of queue, which ended
// otherwise than by its answers (canceled while queued) or is gone: its ID
// leaves the inboxes of workers (its targets: the keys of its answers) and
// the queue's open broadcasts, and its answers hash gets the task's expiry
// (none for a task kept for good, which a purge deletes with it). It
// reports whether it did: a task still queued or running is left alone.
// Idempotent.
func (b *Broker) DropBroadcast(ctx context.Context, id uuid.UUID, queue string, workers []string) (bool, error) {
	keys := make([]string, 0, 3+len(workers))
	keys = append(keys, b.keys.Task(id), b.keys.BroadcastResults(id), b.keys.Broadcasts(queue))
	for _, w := range workers {
		keys = append(keys, b.keys.Inbox(queue, w))
	}
	n, err := broadcastDropScript.Run(ctx, b.rdb, keys, layout.IDText(id)).Int()
	if err != nil {
		return false, fmt.Errorf("broker: drop broadcast %s: %w", id, err)
	}
	return n == 1, nil
}
