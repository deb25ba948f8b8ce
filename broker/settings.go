package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/runq/runq/broker/internal/layout"
)

// QueueSettings are an operator's settings of a queue. They live in Redis
// (layout.Keys.Settings), so that every API and worker process sees the
// same ones without a restart. A zero field is unset.
type QueueSettings struct {
	Paused     bool // workers take none of its tasks; submissions still queue
	MaxLength  int  // the most tasks it may hold queued; 0 means no bound
	MaxRunning int  // the most of its tasks running at once, across workers; 0 means no cap
}

// SettingsUpdate changes some of a queue's settings: a nil field is left
// as it is, and a MaxLength or MaxRunning of 0 unsets it.
type SettingsUpdate struct {
	Paused     *bool
	MaxLength  *int
	MaxRunning *int
}

// Bounds of the settings.
const (
	MaxMaxLength  = 1_000_000_000
	MaxMaxRunning = 1_000_000
)

// ErrBadSetting reports a setting out of range.
var ErrBadSetting = errors.New("broker: setting out of range")

// Validate reports a setting of u out of range, wrapping ErrBadSetting.
func (u SettingsUpdate) Validate() error {
	if n := u.MaxLength; n != nil && (*n < 0 || *n > MaxMaxLength) {
		return fmt.Errorf("%w: max_length %d: must be 1 to %d, or 0 for no bound", ErrBadSetting, *n, MaxMaxLength)
	}
	if n := u.MaxRunning; n != nil && (*n < 0 || *n > MaxMaxRunning) {
		return fmt.Errorf("%w: max_running %d: must be 1 to %d, or 0 for no cap", ErrBadSetting, *n, MaxMaxRunning)
	}
	return nil
}

// Settings field names in the settings hash.
const (
	settingPaused     = "paused"
	settingMaxLength  = "max_length"
	settingMaxRunning = "max_running"
)

// Settings reads queue's settings.
func (b *Broker) Settings(ctx context.Context, queue string) (QueueSettings, error) {
	if err := ValidQueue(queue); err != nil {
		return QueueSettings{}, err
	}
	h, err := b.rdb.HGetAll(ctx, b.keys.Settings(queue)).Result()
	if err != nil {
		return QueueSettings{}, fmt.Errorf("broker: settings of %s: %w", queue, err)
	}
	return parseSettings(h), nil
}

// parseSettings reads a settings hash. A malformed number (written by
// hand) reads as unset, as a malformed task option does.
func parseSettings(h map[string]string) QueueSettings {
	s := QueueSettings{Paused: h[settingPaused] == "1"}
	s.MaxLength, _ = strconv.Atoi(h[settingMaxLength])
	s.MaxRunning, _ = strconv.Atoi(h[settingMaxRunning])
	s.MaxLength, s.MaxRunning = max(s.MaxLength, 0), max(s.MaxRunning, 0)
	return s
}

// UpdateSettings applies u to queue's settings and returns them as they
// then are. The write and the announcement on the events channel are one
// transaction, so every process that listens learns of the change at once
// (workers, for instance, stop claiming from a queue paused).
func (b *Broker) UpdateSettings(ctx context.Context, queue string, u SettingsUpdate) (QueueSettings, error) {
	if err := ValidQueue(queue); err != nil {
		return QueueSettings{}, err
	}
	if err := u.Validate(); err != nil {
		return QueueSettings{}, err
	}
	key := b.keys.Settings(queue)
	var set []any
	var unset []string
	put := func(field string, v int) {
		if v > 0 {
			set = append(set, field, strconv.Itoa(v))
		} else {
			unset = append(unset, field)
		}
	}
	if u.Paused != nil {
		put(settingPaused, map[bool]int{true: 1}[*u.Paused])
	}
	if u.MaxLength != nil {
		put(settingMaxLength, *u.MaxLength)
	}
	if u.MaxRunning != nil {
		put(settingMaxRunning, *u.MaxRunning)
	}
	var all *redis.MapStringStringCmd
	_, err := b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if len(set) > 0 {
			p.HSet(ctx, key, set...)
		}
		if len(unset) > 0 {
			p.HDel(ctx, key, unset...)
		}
		all = p.HGetAll(ctx, key)
		p.Publish(ctx, b.keys.Events(), EventSettings+" "+queue)
		return nil
	})
	if err != nil {
		return QueueSettings{}, fmt.Errorf("broker: update settings of %s: %w", queue, err)
	}
	return parseSettings(all.Val()), nil
}

// Event is a change announced on the events channel.
type Event struct {
	Kind  string // EventSettings, EventDue, EventRoom, EventSlot, EventCancel or EventWatch
	Queue string
	Arg   string    // for EventDue, the time due (ms); else ""
	ID    uuid.UUID // for EventCancel and EventWatch, the task; else uuid.Nil
}

// Kinds of Event.
const (
	EventSettings = "settings" // the queue's settings changed
	EventDue      = "due"      // a task of the queue was scheduled earlier than every other
	EventRoom     = "room"     // a queue that held its max_length has room again
	EventSlot     = "slot"     // a queue that ran its max_running tasks has a slot free again
	EventCancel   = "cancel"   // a cancel of a running task of the queue was asked
	EventWatch    = "watch"    // a running task of the queue gained an event stream
)

// Events calls event for each change announced on the events channel until
// ctx ends, and resync each time the subscription is (re)established: a
// change announced while it was down is not delivered, so a listener reads
// again what it keeps. It returns nil when ctx ends, or the error that
// broke the subscription (the caller resubscribes).
func (b *Broker) Events(ctx context.Context, event func(Event), resync func()) error {
	return b.subscribe(ctx, b.keys.Events(), func(payload string) {
		kind, rest, _ := strings.Cut(payload, " ")
		queue, arg, _ := strings.Cut(rest, " ")
		if ValidQueue(queue) != nil {
			return
		}
		ev := Event{Kind: kind, Queue: queue}
		if kind == EventCancel || kind == EventWatch {
			id, err := layout.ParseIDText(arg)
			if err != nil {
				return
			}
			ev.ID = id
		} else {
			ev.Arg = arg
		}
		event(ev)
	}, resync)
}
