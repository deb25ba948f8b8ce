package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker/internal/layout"
	"github.com/runq/runq/results"
)

// Kinds of TaskEvent.
const (
	TaskEventStatus   = "status"   // the task's status changed
	TaskEventProgress = "progress" // its handler reported progress
)

// TaskEvent is one entry of a watched task's events stream.
type TaskEvent struct {
	ID       string // the stream entry's ID: "<ms>-<seq>", growing
	Kind     string // TaskEventStatus or TaskEventProgress
	Status   results.Status
	Progress *results.Progress // for TaskEventProgress
}

// Watch marks task id watched, so that its changes from now on are added
// to its events stream, and returns its record and the ID of the stream's
// last entry ("" when it has none). A task already terminal is read, not
// marked. A task that does not exist is results.ErrNotFound.
func (b *Broker) Watch(ctx context.Context, id uuid.UUID) (results.Record, string, error) {
	if err := notRunqID("watch", id); err != nil {
		return results.Record{}, "", err
	}
	keys := []string{b.keys.Task(id), b.keys.TaskEvents(id)}
	v, err := watchScript.Run(ctx, b.rdb, keys, b.keys.Events(), layout.IDText(id)).Slice()
	if errors.Is(err, redis.Nil) {
		return results.Record{}, "", fmt.Errorf("broker: watch %s: %w", id, results.ErrNotFound)
	}
	if err != nil {
		return results.Record{}, "", fmt.Errorf("broker: watch %s: %w", id, err)
	}
	flat, _ := v[0].([]any)
	last, _ := v[1].(string)
	h := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		h[toString(flat[i])] = toString(flat[i+1])
	}
	rec, err := decodeRecord(id, h)
	return rec, last, err
}

// Note adds the current status of c's task to its events stream when it
// is watched: the pool calls it for a watched attempt as it starts, and
// after an outcome that does not end the task (retry, release), which the
// scripts that make them do not note. Terminal outcomes need no note: the
// done channel announces them.
func (b *Broker) Note(ctx context.Context, c *Claimed) error {
	keys := []string{b.keys.Task(c.ID), b.keys.TaskEvents(c.ID)}
	if err := eventScript.Run(ctx, b.rdb, keys, TaskEventStatus, b.keys.Changes()).Err(); err != nil {
		return fmt.Errorf("broker: note an event of %s: %w", c.ID, err)
	}
	return nil
}

// maxEventsRead bounds the events one TaskEvents call returns.
const maxEventsRead = 1000

// TaskEvents returns the events of task id's stream after the entry ID
// after ("" or "0-0" for all), oldest first, at most a thousand, with the
// task's record read in the same round trip; gap reports that entries
// after after were trimmed or expired (after, not "0-0", is older than the
// stream's first entry, or the stream is gone), so that the caller sends
// a fresh snapshot instead.
func (b *Broker) TaskEvents(ctx context.Context, id uuid.UUID, after string) (evs []TaskEvent, rec results.Record, gap bool, err error) {
	if err := notRunqID("read events of", id); err != nil {
		return nil, results.Record{}, false, err
	}
	stream := b.keys.TaskEvents(id)
	from := "-"
	if after != "" {
		from = after
	}
	var rng, first *redis.XMessageSliceCmd
	var hash *redis.MapStringStringCmd
	_, err = b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		rng = p.XRangeN(ctx, stream, from, "+", maxEventsRead+1)
		first = p.XRangeN(ctx, stream, "-", "+", 1)
		hash = p.HGetAll(ctx, b.keys.Task(id))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, results.Record{}, false, fmt.Errorf("broker: read events of %s: %w", id, err)
	}
	if rec, err = recordOf(id, hash); err != nil {
		return nil, results.Record{}, false, err
	}
	if after != "" && after != "0-0" {
		f := first.Val()
		gap = len(f) == 0 || streamIDLess(after, f[0].ID)
	}
	for _, m := range rng.Val() {
		if m.ID == after {
			continue
		}
		if len(evs) == maxEventsRead {
			break
		}
		evs = append(evs, eventOf(m))
	}
	return evs, rec, gap, nil
}

// eventOf reads one stream entry.
func eventOf(m redis.XMessage) TaskEvent {
	ev := TaskEvent{ID: m.ID}
	ev.Kind, _ = m.Values["k"].(string)
	s, _ := m.Values["s"].(string)
	ev.Status = results.Status(s)
	if raw, ok := m.Values["pg"].(string); ok {
		var p storedProgress
		if json.Unmarshal([]byte(raw), &p) == nil {
			if at, ok := msTime(p.At); ok {
				ev.Progress = &results.Progress{Value: p.Value, Message: p.Message, At: at}
				if string(p.Message) == "null" {
					ev.Progress.Message = nil
				}
			}
		}
	}
	return ev
}

// streamIDLess reports whether stream entry ID a comes before b.
func streamIDLess(a, b string) bool {
	ams, aseq := splitStreamID(a)
	bms, bseq := splitStreamID(b)
	return ams < bms || ams == bms && aseq < bseq
}

func splitStreamID(s string) (ms, seq uint64) {
	l, r, _ := strings.Cut(s, "-")
	ms, _ = strconv.ParseUint(l, 10, 64)
	seq, _ = strconv.ParseUint(r, 10, 64)
	return ms, seq
}

// ValidEventID reports whether s is a stream entry ID, as a client's
// Last-Event-ID must be.
func ValidEventID(s string) bool {
	l, r, ok := strings.Cut(s, "-")
	_, err1 := strconv.ParseUint(l, 10, 64)
	_, err2 := strconv.ParseUint(r, 10, 64)
	return ok && err1 == nil && err2 == nil
}

// Follow calls changed with the ID of each task that changed: a watched
// task whose stream gained an event (the changes channel), or any task
// that ended (the done channel); resync each time the subscription is
// (re)established, since changes announced while it was down are lost.
// It returns nil when ctx ends, or the error that broke the subscription.
// It holds one connection of its own.
func (b *Broker) Follow(ctx context.Context, changed func(uuid.UUID), resync func()) error {
	return b.subscribeAll(ctx, []string{b.keys.Changes(), b.keys.Done()}, func(payload string) {
		for _, raw := range strings.Fields(payload) {
			if id, err := layout.ParseIDText(raw); err == nil {
				changed(id)
			}
		}
	}, resync)
}
