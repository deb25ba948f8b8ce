package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker/internal/layout"
)

// A periodic schedule lives in the schedules hash of the queue its tasks
// go to, under its ID: what it was declared as, when a process last
// declared it, and its last tick that created a task. Every process that
// declares a schedule asks for each of its ticks; the tick script creates
// the task only for a tick later than the last one recorded, so one task
// is created per tick however many processes ask.

// ScheduleDecl is a schedule as a process declares it.
type ScheduleDecl struct {
	ID    string
	Queue string // where its tasks go
	Info  []byte // its description, JSON, as Schedules returns it
}

// ScheduleRun is a tick of a schedule that created a task.
type ScheduleRun struct {
	Tick time.Time // zero when no tick was recorded
	Task uuid.UUID
}

// DeclareSchedules records ds as declared now, on Redis's clock, and their
// queues as known, and returns the last run of each of ds, in order, with
// Redis's time. It takes one round trip: a script call per queue.
func (b *Broker) DeclareSchedules(ctx context.Context, ds []ScheduleDecl) ([]ScheduleRun, time.Time, error) {
	for _, d := range ds {
		if err := ValidQueue(d.Queue); err != nil {
			return nil, time.Time{}, err
		}
	}
	groups := byQueue(ds, func(d ScheduleDecl) string { return d.Queue })
	cmds := make([]*redis.Cmd, len(groups))
	err := b.scriptPipeline(ctx, func(pipe redis.Pipeliner) error {
		queues := make([]any, len(groups))
		for g, idx := range groups {
			q := ds[idx[0]].Queue
			queues[g] = q
			args := make([]any, 0, 2*len(idx))
			for _, i := range idx {
				args = append(args, ds[i].ID, ds[i].Info)
			}
			cmds[g] = scheduleDeclareScript.EvalSha(ctx, pipe, []string{b.keys.Schedules(q)}, args...)
		}
		pipe.SAdd(ctx, b.keys.Queues(), queues...)
		return nil
	}, scheduleDeclareScript)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("broker: declare %d schedules: %w", len(ds), err)
	}
	runs := make([]ScheduleRun, len(ds))
	var now time.Time
	for g, idx := range groups {
		vals, err := cmds[g].Slice()
		if err == nil && len(vals) != 1+len(idx) {
			err = fmt.Errorf("schedule_declare.lua replied %d values for %d schedules", len(vals), len(idx))
		}
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("broker: declare %d schedules: %w", len(ds), err)
		}
		ms, _ := vals[0].(int64)
		now = time.UnixMilli(ms).UTC()
		for j, i := range idx {
			runs[i] = parseRun(toString(vals[1+j]))
		}
	}
	return runs, now, nil
}

// parseRun reads a run field, "tick_ms,task_id"; one that does not parse
// (or "") reads as no run.
func parseRun(s string) ScheduleRun {
	tick, task, ok := strings.Cut(s, ",")
	ms, err := strconv.ParseInt(tick, 10, 64)
	if !ok || err != nil {
		return ScheduleRun{}
	}
	id, _ := layout.ParseIDText(task)
	return ScheduleRun{Tick: time.UnixMilli(ms).UTC(), Task: id}
}

// TickState is what a Tick did.
type TickState int

// States of a Tick.
const (
	TickCreated  TickState = iota // the task was created
	TickRecorded                  // that tick or a later one was recorded before: nothing created
	TickEarly                     // the tick is ahead of Redis's clock by more than the leeway: nothing created
)

// TickResult is what Tick did, with the run recorded before it and
// Redis's time.
type TickResult struct {
	State TickState
	Prev  ScheduleRun
	Now   time.Time
}

// Tick creates t for the tick at of schedule id, as Enqueue would, unless
// a tick at or after at was recorded for the schedule, or at is more than
// early ahead of Redis's clock. It gives t a new ID, and records the tick
// and t's ID as the schedule's last run, and the schedule as declared now.
// It is one script call, in the slot of t's queue.
func (b *Broker) Tick(ctx context.Context, id string, at time.Time, early time.Duration, t *NewTask) (TickResult, error) {
	if err := ValidQueue(t.Queue); err != nil {
		return TickResult{}, err
	}
	if err := b.check(ctx); err != nil {
		return TickResult{}, err
	}
	if t.ID == (uuid.UUID{}) {
		tid, err := layout.NewID(t.Queue)
		if err != nil {
			return TickResult{}, err
		}
		t.ID = tid
	}
	key := b.keys.Task(t.ID)
	m := meta{maxRetries: t.MaxRetries, timeout: t.Timeout, resultTTL: t.ResultTTL, queue: t.Queue, name: t.Name}
	keys := []string{b.keys.Schedules(t.Queue), b.keys.Pending(t.Queue), b.keys.Log(t.Queue), key}
	vals, err := scheduleTickScript.Run(ctx, b.rdb, keys, id, at.UnixMilli(), layout.IDOfKey(key),
		m.String(), pack(t.Payload), early.Milliseconds()).Slice()
	if err == nil && len(vals) != 4 {
		err = fmt.Errorf("schedule_tick.lua replied %d values, want 4", len(vals))
	}
	if err != nil {
		return TickResult{}, fmt.Errorf("broker: tick of schedule %q: %w", id, err)
	}
	state, _ := vals[0].(int64)
	prevMS, _ := vals[1].(int64)
	nowMS, _ := vals[3].(int64)
	r := TickResult{State: TickRecorded, Now: time.UnixMilli(nowMS).UTC()}
	switch state {
	case 1:
		r.State = TickCreated
	case -1:
		r.State = TickEarly
	}
	if prevMS >= 0 {
		r.Prev = parseRun(strconv.FormatInt(prevMS, 10) + "," + toString(vals[2]))
	}
	return r, nil
}

// ScheduleRecord is what Redis holds of one schedule.
type ScheduleRecord struct {
	ID    string
	Queue string
	Info  []byte // as last declared; nil when only its runs are recorded
	// Declared is when a process last declared the schedule or asked for
	// one of its ticks, on Redis's clock.
	Declared time.Time
	Last     ScheduleRun
}

// Schedules reads every schedule of queues, in one round trip, in the
// order of queues and, within a queue, of ID.
func (b *Broker) Schedules(ctx context.Context, queues []string) ([]ScheduleRecord, error) {
	cmds := make([]*redis.MapStringStringCmd, len(queues))
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, q := range queues {
			cmds[i] = p.HGetAll(ctx, b.keys.Schedules(q))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("broker: list schedules: %w", err)
	}
	var out []ScheduleRecord
	for i, q := range queues {
		out = append(out, scheduleRecords(q, cmds[i].Val())...)
	}
	return out, nil
}

// scheduleRecords reads the schedules hash h of queue, sorted by ID.
func scheduleRecords(queue string, h map[string]string) []ScheduleRecord {
	at := make(map[string]int)
	var out []ScheduleRecord
	rec := func(id string) *ScheduleRecord {
		i, ok := at[id]
		if !ok {
			i = len(out)
			at[id] = i
			out = append(out, ScheduleRecord{ID: id, Queue: queue})
		}
		return &out[i]
	}
	for field, v := range h {
		switch {
		case strings.HasPrefix(field, layout.ScheduleFieldInfo):
			rec(field[len(layout.ScheduleFieldInfo):]).Info = []byte(v)
		case strings.HasPrefix(field, layout.ScheduleFieldDeclared):
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
				rec(field[len(layout.ScheduleFieldDeclared):]).Declared = time.UnixMilli(ms).UTC()
			}
		case strings.HasPrefix(field, layout.ScheduleFieldRun):
			rec(field[len(layout.ScheduleFieldRun):]).Last = parseRun(v)
		}
	}
	slices.SortFunc(out, func(a, b ScheduleRecord) int { return strings.Compare(a.ID, b.ID) })
	return out
}
