package broker

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker/internal/layout"
)

// What the tests of package broker_test need of the broker's keys.

func (b *Broker) TaskKey(id uuid.UUID) string            { return b.keys.Task(id) }
func (b *Broker) PendingKey(queue string) string         { return b.keys.Pending(queue) }
func (b *Broker) ScheduledKey(queue string) string       { return b.keys.Scheduled(queue) }
func (b *Broker) LeasesKey(queue string) string          { return b.keys.Leases(queue) }
func (b *Broker) LeaseTasksKey(queue, tok string) string { return b.keys.LeaseTasks(queue, tok) }
func (b *Broker) DoneChannel() string                    { return b.keys.Done() }
func (b *Broker) LogKey(queue string) string             { return b.keys.Log(queue) }

var StatusOf = statusOf

// CreatedSrc is lua/created.lua, for tests that run its functions.
var CreatedSrc = createdSrc

var KeptNow = keptNow

func (b *Broker) ReservedKey(queue string) string { return b.keys.Reserved(queue) }

// EnqueueEach runs one group-committed flush of ts, as concurrent single
// submissions would share it, and returns for each task its creation time
// or, when refused, its queue's max_length.
func (b *Broker) EnqueueEach(ctx context.Context, ts []NewTask) ([]time.Time, []int, error) {
	for i := range ts {
		id, err := layout.NewID(ts[i].Queue)
		if err != nil {
			return nil, nil, err
		}
		ts[i].ID = id
	}
	rs, err := b.enqueueFlush(ctx, ts)
	if err != nil {
		return nil, nil, err
	}
	created, full := make([]time.Time, len(rs)), make([]int, len(rs))
	for i, r := range rs {
		created[i], full[i] = r.created, r.full
	}
	return created, full, nil
}

// Hold holds room for ts (given IDs) as the first round trip of a batch
// spanning several queues does, and returns the bounds its second round
// trip (EnqueueHeld) passes on.
func (b *Broker) Hold(ctx context.Context, ts []NewTask) ([]string, error) {
	return b.hold(ctx, ts, byQueue(ts, func(t NewTask) string { return t.Queue }))
}

// HoldAs is Hold under token, as a resent first round trip sends it.
func (b *Broker) HoldAs(ctx context.Context, token string, ts []NewTask) ([]string, error) {
	return b.holdAs(ctx, token, ts, byQueue(ts, func(t NewTask) string { return t.Queue }))
}

// EnqueueHeld is the second round trip of a batch spanning several queues.
func (b *Broker) EnqueueHeld(ctx context.Context, ts []NewTask, bounds []string) error {
	_, err := b.enqueueGroups(ctx, ts, byQueue(ts, func(t NewTask) string { return t.Queue }), bounds)
	return err
}
