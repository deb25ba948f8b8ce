package tasks

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ScheduleInfo describes a schedule: what it was declared as, its last
// tick that created a task, its next tick, and when a process last
// declared it. Its JSON is GET /v1/schedules's, durations as strings
// ("30s").
type ScheduleInfo struct {
	ID      string          `json:"id"`
	Spec    string          `json:"spec"`
	Name    string          `json:"name"`
	Queue   string          `json:"queue"`
	Payload json.RawMessage `json:"payload"`
	// MaxRetries, Timeout and ResultTTL are the options of its tasks; 0
	// takes the handler's default, then runq's; NoRetries is none.
	MaxRetries int           `json:"max_retries,omitempty"`
	Timeout    time.Duration `json:"-"`
	ResultTTL  time.Duration `json:"-"`
	// LastRun is the last tick that created a task, and LastTaskID that
	// task; zero before the first.
	LastRun    time.Time `json:"last_run,omitzero"`
	LastTaskID uuid.UUID `json:"last_task_id,omitzero"`
	// NextRun is the next tick after the time of the listing.
	NextRun time.Time `json:"next_run,omitzero"`
	// DeclaredAt is when a process last declared the schedule: at its
	// start, at each tick, and at least hourly while it runs.
	DeclaredAt time.Time `json:"declared_at,omitzero"`
}

// ScheduleTimeout is how long after the last process declared it a
// schedule stays listed: one that no running process declares any more
// leaves the list then (its last run stays in Redis, a few hundred bytes,
// for a process that declares it again).
const ScheduleTimeout = 24 * time.Hour

// scheduleInfoJSON is ScheduleInfo's JSON: its durations as strings, left
// out when unset.
type scheduleInfoJSON struct {
	scheduleInfoFields
	Timeout   string `json:"timeout,omitempty"`
	ResultTTL string `json:"result_ttl,omitempty"`
}

type scheduleInfoFields ScheduleInfo // without the methods

// MarshalJSON renders s as GET /v1/schedules shows it.
func (s ScheduleInfo) MarshalJSON() ([]byte, error) {
	j := scheduleInfoJSON{scheduleInfoFields: scheduleInfoFields(s)}
	if s.Timeout > 0 {
		j.Timeout = s.Timeout.String()
	}
	if s.ResultTTL > 0 {
		j.ResultTTL = s.ResultTTL.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *ScheduleInfo) UnmarshalJSON(b []byte) error {
	var j scheduleInfoJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	timeout, err := parseOptionalDuration("timeout", j.Timeout)
	if err != nil {
		return err
	}
	ttl, err := parseOptionalDuration("result_ttl", j.ResultTTL)
	*s = ScheduleInfo(j.scheduleInfoFields)
	s.Timeout, s.ResultTTL = timeout, ttl
	return err
}

// info describes s as a process declares it.
func (s *schedule) info() ScheduleInfo {
	return ScheduleInfo{ID: s.id, Spec: s.spec, Name: s.req.Name, Queue: s.req.Queue, Payload: s.req.Payload,
		MaxRetries: s.req.MaxRetries, Timeout: s.req.Timeout, ResultTTL: s.req.ResultTTL}
}

// Schedules describes the schedules of every known queue that some process
// declared within ScheduleTimeout, by ID, then queue.
func (c *Client) Schedules(ctx context.Context) ([]ScheduleInfo, error) {
	queues, err := c.b.Queues(ctx)
	if err != nil {
		return nil, fmt.Errorf("tasks: schedules: %w", unavailable(err))
	}
	recs, err := c.b.Schedules(ctx, queues)
	if err != nil {
		return nil, fmt.Errorf("tasks: schedules: %w", unavailable(err))
	}
	now := time.Now().UTC()
	out := []ScheduleInfo{}
	for _, r := range recs {
		var si ScheduleInfo
		if r.Info == nil || now.Sub(r.Declared) > ScheduleTimeout || json.Unmarshal(r.Info, &si) != nil {
			continue // no longer declared, or written by another version
		}
		si.ID, si.Queue = r.ID, r.Queue
		si.LastRun, si.LastTaskID, si.DeclaredAt = r.Last.Tick, r.Last.Task, r.Declared
		if _, times, err := parseSpec(si.Spec); err == nil {
			// A tick is created on Redis's clock, which may be a little
			// ahead of this one: the next run is after the last in any case.
			si.NextRun = times.Next(maxTime(now, si.LastRun))
		}
		out = append(out, si)
	}
	slices.SortFunc(out, func(a, b ScheduleInfo) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Queue, b.Queue))
	})
	return out, nil
}
