package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/runq/runq/broker/internal/layout"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/results"
)

// notRunqID returns an error wrapping results.ErrNotFound, op naming the
// call, for an id that is not of the version and variant of runq's IDs
// (layout.IsTaskID), which name no task; nil for one that is. Every call
// that takes a caller's task ID checks it before reading Redis.
func notRunqID(op string, id uuid.UUID) error {
	if layout.IsTaskID(id) {
		return nil
	}
	return fmt.Errorf("broker: %s %s: not a runq task ID (version %d): %w", op, id, id.Version(), results.ErrNotFound)
}

// Get returns the record of task id, or an error wrapping
// results.ErrNotFound.
func (b *Broker) Get(ctx context.Context, id uuid.UUID) (results.Record, error) {
	if err := notRunqID("get", id); err != nil {
		return results.Record{}, err
	}
	cmd := b.rdb.HGetAll(ctx, b.keys.Task(id))
	rec, err := recordOf(id, cmd)
	if err == nil {
		err = b.withBroadcast(ctx, id, cmd.Val(), &rec)
	}
	if err != nil {
		return results.Record{}, err
	}
	return rec, nil
}

// GetMany reads the records of ids in one pipeline: recs[i] and errs[i]
// are what Get(ctx, ids[i]) returns.
func (b *Broker) GetMany(ctx context.Context, ids []uuid.UUID) (recs []results.Record, errs []error) {
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, _ = b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			if layout.IsTaskID(id) {
				cmds[i] = p.HGetAll(ctx, b.keys.Task(id))
			}
		}
		return nil
	}) // a failed pipeline leaves its error on every command
	recs, errs = make([]results.Record, len(ids)), make([]error, len(ids))
	for i, id := range ids {
		if cmds[i] == nil {
			errs[i] = notRunqID("get", id)
			continue
		}
		recs[i], errs[i] = recordOf(id, cmds[i])
		if errs[i] == nil {
			errs[i] = b.withBroadcast(ctx, id, cmds[i].Val(), &recs[i])
		}
	}
	return recs, errs
}

// recordOf decodes the reply of HGETALL on task id's hash.
func recordOf(id uuid.UUID, cmd *redis.MapStringStringCmd) (results.Record, error) {
	h, err := cmd.Result()
	if err != nil {
		return results.Record{}, fmt.Errorf("broker: get %s: %w", id, err)
	}
	return decodeRecord(id, h)
}

// listenIdle is how long a subscription waits for a message before it
// pings, to learn that an idle subscription is still alive.
const listenIdle = 15 * time.Second

// Listen subscribes to the channel on which the scripts publish the IDs of
// tasks that reached a terminal status, calls resync once subscribed (what
// finished before may have been missed), then finished with each ID
// published, until ctx ends (nil) or the subscription fails (its error).
// It holds one connection of its own.
func (b *Broker) Listen(ctx context.Context, finished func(uuid.UUID), resync func()) error {
	return b.subscribe(ctx, b.keys.Done(), func(payload string) {
		// One message carries the IDs of one script call, separated by
		// spaces.
		for _, raw := range strings.Fields(payload) {
			if id, err := layout.ParseIDText(raw); err == nil {
				finished(id)
			}
		}
	}, resync)
}

// subscribe calls message with each message published on channel, and
// resync each time the subscription is established, until ctx ends (nil)
// or the subscription fails (its error). It holds one connection of its
// own.
func (b *Broker) subscribe(ctx context.Context, channel string, message func(string), resync func()) error {
	return b.subscribeAll(ctx, []string{channel}, message, resync)
}

// subscribeAll is subscribe to several channels over one connection;
// resync is called once per channel subscribed.
func (b *Broker) subscribeAll(ctx context.Context, channels []string, message func(string), resync func()) error {
	channel := strings.Join(channels, " ")
	ps := b.rdb.Subscribe(ctx, channels...)
	defer ps.Close()
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	for {
		msg, err := ps.ReceiveTimeout(ctx, listenIdle)
		if ctx.Err() != nil {
			return nil
		}
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			if err := ps.Ping(ctx); err != nil && ctx.Err() == nil {
				return fmt.Errorf("broker: subscribe to %s: ping: %w", channel, err)
			}
			continue
		case err != nil:
			return fmt.Errorf("broker: subscribe to %s: %w", channel, err)
		}
		switch m := msg.(type) {
		case *redis.Message:
			message(m.Payload)
		case *redis.Subscription:
			resync()
		}
	}
}
