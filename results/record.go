package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
)

// Errors reported by this package.
var (
	// ErrNotFound reports a task ID with no record: never created, or its
	// result expired.
	ErrNotFound = errors.New("results: task not found")
	// ErrCorrupt reports a task hash that does not decode as a record.
	ErrCorrupt = errors.New("results: corrupt task record")
)

// Record is everything known about one task, as GET /v1/tasks/{id} shows it.
type Record struct {
	ID         uuid.UUID       `json:"id"`
	Name       string          `json:"name"`
	Queue      string          `json:"queue"`
	Status     Status          `json:"status"`
	Payload    json.RawMessage `json:"payload"`
	Result     json.RawMessage `json:"result,omitempty"`
	Error      string          `json:"error,omitempty"`
	Attempts   int             `json:"attempts"`
	MaxRetries int             `json:"max_retries"`
	Timeout    Duration        `json:"timeout"`
	ResultTTL  Duration        `json:"result_ttl"`
	Crashes    int             `json:"crashes,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	StartedAt  *time.Time      `json:"started_at,omitempty"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
}

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("30s", "1m30s").
type Duration time.Duration

// MarshalJSON renders d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// Decode builds the record of task id from the fields of its hash. A field
// that is missing reads as its zero value; one that is present but does not
// parse, or an unknown status, is ErrCorrupt.
func Decode(id uuid.UUID, h map[string]string) (Record, error) {
	if len(h) == 0 {
		return Record{}, fmt.Errorf("results: id %s: %w", id, ErrNotFound)
	}
	d := decoder{h: h}
	r := Record{
		ID:         id,
		Status:     Status(broker.StatusOf(h)),
		Error:      h[broker.FieldError],
		Crashes:    d.int(broker.FieldCrashes),
		CreatedAt:  d.time(broker.FieldCreated),
		FinishedAt: d.optTime(broker.FieldFinished),
		Payload:    d.json(broker.FieldPayload),
		Result:     d.json(broker.FieldResult),
	}
	if m, err := broker.MetaOf(h); err != nil {
		d.fail(err)
	} else {
		r.Name, r.Queue = m.Name, m.Queue
		r.MaxRetries, r.Timeout, r.ResultTTL = m.MaxRetries, Duration(m.Timeout), Duration(m.ResultTTL)
	}
	if a, ok, err := broker.AttemptOf(h); err != nil {
		d.fail(err)
	} else if ok {
		r.Attempts = a.Number
		if !a.Started.IsZero() {
			r.StartedAt = &a.Started
		}
	}
	if d.err == nil && !r.Status.Valid() {
		d.err = fmt.Errorf("status %q", r.Status)
	}
	if d.err != nil {
		return Record{}, fmt.Errorf("results: decode %s: %w: %v", id, ErrCorrupt, d.err)
	}
	if r.Payload == nil {
		r.Payload = json.RawMessage("null")
	}
	return r, nil
}

// decoder reads typed fields from a hash and keeps the first error.
type decoder struct {
	h   map[string]string
	err error
}

// fail keeps err if it is the first.
func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) int64(field string) int64 {
	v, ok := d.h[field]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil && d.err == nil {
		d.err = fmt.Errorf("field %s: %q is not an integer", field, v)
	}
	return n
}

func (d *decoder) int(field string) int {
	n := d.int64(field)
	if n < -1<<31 || n > 1<<31-1 {
		if d.err == nil {
			d.err = fmt.Errorf("field %s: %d out of range", field, n)
		}
		return 0
	}
	return int(n)
}

func (d *decoder) time(field string) time.Time {
	if _, ok := d.h[field]; !ok {
		return time.Time{}
	}
	return time.UnixMilli(d.int64(field)).UTC()
}

func (d *decoder) optTime(field string) *time.Time {
	if _, ok := d.h[field]; !ok {
		return nil
	}
	t := d.time(field)
	return &t
}

func (d *decoder) json(field string) json.RawMessage {
	v, ok := d.h[field]
	if !ok {
		return nil
	}
	if !json.Valid([]byte(v)) {
		if d.err == nil {
			d.err = fmt.Errorf("field %s is not valid JSON", field)
		}
		return nil
	}
	return json.RawMessage(v)
}

// UnmarshalJSON reads a duration string such as "30s"; null leaves d as it
// is, like an absent field. Negative durations are refused.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"30s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: use a number with a unit, such as \"30s\" or \"1m30s\"", s)
	}
	if v < 0 {
		return fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	*d = Duration(v)
	return nil
}
