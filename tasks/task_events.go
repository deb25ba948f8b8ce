package tasks

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

// Kinds of TaskEvent.
const (
	// EventStatus: the task's status changed; the first event of a stream
	// that does not resume is one too, the task as it is.
	EventStatus = broker.TaskEventStatus
	// EventProgress: the handler reported progress (Task.Progress).
	EventProgress = broker.TaskEventProgress
	// EventEnd: the task is terminal; the last event of a stream.
	EventEnd = "end"
	// EventIdle: nothing happened for EventsIdle; a stream over the
	// network sends a keepalive.
	EventIdle = "idle"
)

// EventsIdle is how long Events waits without an event before it passes
// an EventIdle.
const EventsIdle = 15 * time.Second

// TaskEvent is one event of a task's stream (Client.Events).
type TaskEvent struct {
	// ID names the event, to resume after it; IDs grow. "" for an
	// EventIdle.
	ID   string
	Kind string // EventStatus, EventProgress, EventEnd or EventIdle
	// Record is the task's record as read when the event is passed, with
	// Status (and, for EventProgress, Progress) as of the event: an event
	// read late shows later fields, such as the result, beside its
	// status. For EventEnd, the final record. Zero for EventIdle.
	Record results.Record
}

// Events follows task id: it calls fn with each change of its status and
// each progress its handler reports, in order, then with an EventEnd
// holding the final record, and returns nil. A task already terminal
// gives the EventEnd at once (after the events that followed after, when
// resuming). With after "" the first event is an
// EventStatus of the task as it is; with after the ID of an event passed
// before (an SSE client's Last-Event-ID), the events that followed it,
// or, when they are gone (a stream keeps about a thousand events, for a
// day after the last), an EventStatus of the task as it is. Events ends
// early with fn's error, ctx's, or ErrClosed when the client closes.
//
// Following costs the task's status changes an event each (progress
// writes and starts always wrote the hash; they now also append to the
// task's stream); unwatched tasks cost nothing. One subscription of the
// client serves every Events call. Not every change makes an event: a
// retrying task queued again when its delay passes, and one queued again
// because its worker was lost, show as running at their next start.
func (c *Client) Events(ctx context.Context, id uuid.UUID, after string, fn func(TaskEvent) error) error {
	if after != "" && !broker.ValidEventID(after) {
		return fmt.Errorf("tasks: events of %s: after %q is not an event ID: %w", id, after, ErrInvalid)
	}
	wake, stop, err := c.follower().add(id)
	if err != nil {
		return err
	}
	defer stop()
	if err := c.begin("events"); err != nil {
		return err
	}
	rec, last, err := c.b.Watch(ctx, id)
	c.calls.RUnlock()
	if err != nil {
		return fmt.Errorf("tasks: events: %w", unavailable(err))
	}
	if rec.Status.Terminal() && after == "" {
		return fn(TaskEvent{ID: orFirst(last), Kind: EventEnd, Record: rec})
	}
	if after == "" {
		after = orFirst(last)
		if err := fn(TaskEvent{ID: after, Kind: EventStatus, Record: rec}); err != nil {
			return err
		}
	}
	idle := time.NewTimer(EventsIdle)
	defer idle.Stop()
	for {
		done, err := c.sendEvents(ctx, id, &after, fn)
		if done || err != nil {
			return err
		}
		idle.Reset(EventsIdle)
		select {
		case <-wake:
		case <-idle.C:
			if err := fn(TaskEvent{Kind: EventIdle}); err != nil {
				return err
			}
		case <-c.closing:
			return fmt.Errorf("tasks: events: %w", ErrClosed)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// orFirst returns id, or for a stream with no entry yet the ID that comes
// before every entry's.
func orFirst(id string) string {
	if id == "" {
		return "0-0"
	}
	return id
}

// sendEvents passes the events of id after *after to fn, and the EventEnd
// once the task is terminal (done).
func (c *Client) sendEvents(ctx context.Context, id uuid.UUID, after *string, fn func(TaskEvent) error) (done bool, err error) {
	if err := c.begin("events"); err != nil {
		return false, err
	}
	evs, rec, gap, err := c.b.TaskEvents(ctx, id, *after)
	c.calls.RUnlock()
	if err != nil {
		return false, fmt.Errorf("tasks: events: %w", unavailable(err))
	}
	if gap && !rec.Status.Terminal() {
		// What followed after is gone: the task as it is, instead, and
		// whatever joins the stream from now.
		*after = "0-0"
		if len(evs) > 0 {
			*after = evs[len(evs)-1].ID
		}
		return false, fn(TaskEvent{ID: *after, Kind: EventStatus, Record: rec})
	}
	for _, ev := range evs {
		r := rec
		r.Status = ev.Status
		if ev.Progress != nil {
			r.Progress = ev.Progress
		}
		*after = ev.ID
		if err := fn(TaskEvent{ID: ev.ID, Kind: ev.Kind, Record: r}); err != nil {
			return false, err
		}
	}
	if rec.Status.Terminal() {
		return true, fn(TaskEvent{ID: *after, Kind: EventEnd, Record: rec})
	}
	return false, nil
}
