package tasks

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/runq/runq/results"
)

// What operators see: the types of Client.List, Queues, Workers, Handlers,
// Retry and Purge. Their JSON is the HTTP API's (GET /v1/tasks, /v1/queues,
// /v1/workers, /v1/handlers); durations are Go duration strings ("1.5s").

// ErrNotRetryable reports a retry of a task that is neither failed nor
// canceled.
var ErrNotRetryable = errors.New("tasks: only a failed or canceled task can be retried")

// Limits of List.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
)

// ListOptions filter and page List. A zero field filters nothing.
type ListOptions struct {
	Queue  string         // one queue; "" means every known queue
	Status results.Status // one status; "" means any
	Name   string         // one task name; "" means any
	Limit  int            // tasks per page, 1 to MaxListLimit; 0 means DefaultListLimit
	Cursor string         // NextCursor of the page before; "" starts at the newest
}

// TaskPage is one page of List, newest task first.
type TaskPage struct {
	Tasks []results.Record `json:"tasks"`
	// NextCursor continues the listing after this page; "" when there is
	// nothing more. A page may hold fewer than Limit tasks (even none) and
	// still have a NextCursor: each call examines a bounded number of
	// tasks, so a filter that matches rarely cannot make one call slow.
	NextCursor string `json:"next_cursor,omitempty"`
}

// QueueInfo describes one queue: the tasks it holds now, by status, and
// the attempts its workers finished recently.
type QueueInfo struct {
	Name      string `json:"name"`
	Queued    int64  `json:"queued"`    // waiting for a worker (those held for a slot of their name's cap included)
	Scheduled int64  `json:"scheduled"` // waiting for a time: held back (scheduled), retrying, or a turn under their name's rate
	Running   int64  `json:"running"`   // taken by a worker and not finished
	Succeeded int64  `json:"succeeded"` // kept until their result TTL
	Failed    int64  `json:"failed"`    // kept until their result TTL
	Canceled  int64  `json:"canceled"`  // kept until their result TTL
	// OldestQueued is how long the task at the head of the queue has
	// waited since it was submitted; 0 when none is queued.
	OldestQueued time.Duration `json:"-"`
	// Processed and FailedAttempts count attempts that ended, and those of
	// them that failed (retried or not), over the last minute and hour, as
	// the workers report them (every few seconds).
	Processed1m      int64 `json:"processed_1m"`
	FailedAttempts1m int64 `json:"failed_1m"`
	Processed1h      int64 `json:"processed_1h"`
	FailedAttempts1h int64 `json:"failed_1h"`
	// History is the attempts finished per ThroughputStep over the last
	// ThroughputSpan, oldest first.
	History []Throughput `json:"history"`
	// Limits are the task names with a rate or a cap in the queue, by
	// name, with their tasks running under the cap and held waiting for
	// a slot.
	Limits []NameLimits `json:"limits,omitempty"`
	// QueueSettings are the operator's settings of the queue.
	QueueSettings
}

// QueueSettings are an operator's settings of a queue, kept in Redis: they
// take effect in every API and worker process at once, without a restart.
// A zero field is unset.
type QueueSettings struct {
	// Paused queues keep taking submissions, but workers start none of
	// their tasks (those running finish) until the queue is resumed.
	Paused bool `json:"paused"`
	// MaxLength bounds how many tasks the queue holds queued: a
	// submission that would pass it is refused with ErrQueueFull. 0 means
	// no bound.
	MaxLength int `json:"max_length,omitempty"`
	// MaxRunning caps how many of the queue's tasks run at once, across
	// every worker. 0 means no cap.
	MaxRunning int `json:"max_running,omitempty"`
}

// QueueUpdate changes some of a queue's settings: a nil field is left as
// it is; a MaxLength or MaxRunning of 0 unsets it. Its JSON is the body of
// PUT /v1/queues/{queue}.
type QueueUpdate struct {
	Paused     *bool `json:"paused,omitempty"`
	MaxLength  *int  `json:"max_length,omitempty"`
	MaxRunning *int  `json:"max_running,omitempty"`
}

// Throughput is what a queue's workers finished in one step of time.
type Throughput struct {
	At        time.Time `json:"at"` // start of the step
	Processed int64     `json:"processed"`
	Failed    int64     `json:"failed"`
}

// Steps of QueueInfo.History.
const (
	ThroughputStep = 10 * time.Second
	ThroughputSpan = 10 * time.Minute
)

// WorkerInfo describes a live worker process (a Pool), as it last reported
// itself. A worker that stops reporting leaves the list after
// WorkerTimeout.
type WorkerInfo struct {
	ID            string         `json:"id"`
	Host          string         `json:"host"`
	PID           int            `json:"pid"`
	Queues        []string       `json:"queues"`
	Weights       map[string]int `json:"weights,omitempty"` // of Queues, taken in weighted order; nil: strict order
	Concurrency   int            `json:"concurrency"`
	BatchWait     string         `json:"batch_wait,omitempty"` // PoolConfig.BatchWait, as a Go duration ("5ms"); "": claims at once
	Running       int            `json:"running"`              // handlers running now
	StartedAt     time.Time      `json:"started_at"`
	LastHeartbeat time.Time      `json:"last_heartbeat"`
	Version       string         `json:"version"`

	// Handlers are the task names the worker registered: a broadcast
	// task targets the workers whose Handlers and Queues hold its own.
	Handlers []string `json:"handlers,omitempty"`
}

// How often a worker reports itself, and how long after its last report
// it is taken for dead.
const (
	WorkerHeartbeat = 5 * time.Second
	WorkerTimeout   = 15 * time.Second
)

// HandlerInfo is a task name some worker registered, with the defaults it
// declared.
type HandlerInfo struct {
	Name       string        `json:"name"`
	MaxRetries int           `json:"max_retries,omitempty"` // 0: the client's default; NoRetries: none
	Timeout    time.Duration `json:"-"`                     // 0: the client's default
	Rate       string        `json:"rate,omitempty"`        // "10/s"; "": no rate limit
	MaxRunning int           `json:"max_running,omitempty"` // 0: no cap
}

// handlerInfoJSON is HandlerInfo's JSON: the timeout as a duration string,
// left out when unset.
type handlerInfoJSON struct {
	handlerInfoFields
	Timeout string `json:"timeout,omitempty"`
}

type handlerInfoFields HandlerInfo // without the methods

// MarshalJSON renders h as GET /v1/handlers shows it.
func (h HandlerInfo) MarshalJSON() ([]byte, error) {
	j := handlerInfoJSON{handlerInfoFields: handlerInfoFields(h)}
	if h.Timeout > 0 {
		j.Timeout = h.Timeout.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (h *HandlerInfo) UnmarshalJSON(b []byte) error {
	var j handlerInfoJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	d, err := parseOptionalDuration("timeout", j.Timeout)
	*h = HandlerInfo(j.handlerInfoFields)
	h.Timeout = d
	return err
}

// queueInfoJSON is QueueInfo's JSON: the oldest task's wait as a duration
// string.
type queueInfoJSON struct {
	queueInfoFields
	OldestQueued string `json:"oldest_queued"`
}

type queueInfoFields QueueInfo // without the methods

// MarshalJSON renders q as GET /v1/queues shows it.
func (q QueueInfo) MarshalJSON() ([]byte, error) {
	j := queueInfoJSON{queueInfoFields: queueInfoFields(q), OldestQueued: q.OldestQueued.String()}
	if j.History == nil {
		j.History = []Throughput{}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (q *QueueInfo) UnmarshalJSON(b []byte) error {
	var j queueInfoJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	d, err := parseOptionalDuration("oldest_queued", j.OldestQueued)
	*q = QueueInfo(j.queueInfoFields)
	q.OldestQueued = d
	return err
}

// parseOptionalDuration reads a duration string of field; "" is 0.
func parseOptionalDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("tasks: field %s: %w", field, err)
	}
	return d, nil
}
