package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Errors about records.
var (
	// ErrNotFound reports a task ID with no record: never created, or its
	// result expired.
	ErrNotFound = errors.New("results: task not found")
	// ErrCorrupt reports stored task data that does not decode as a record.
	ErrCorrupt = errors.New("results: corrupt task record")
)

// Record is everything known about one task, as GET /v1/tasks/{id} shows
// it. Times are UTC on Redis's clock; a zero StartedAt or FinishedAt means
// the task has not started or finished.
type Record struct {
	ID         uuid.UUID
	Name       string
	Queue      string
	Status     Status
	Payload    json.RawMessage // the task's input, JSON; null when none was given
	Result     json.RawMessage // the handler's output, JSON, once succeeded
	Error      string          // the last failed attempt's error
	Attempts   int             // attempts started, the current one included
	MaxRetries int             // retries allowed after a failed attempt, resolved at submit: 0 is none
	Timeout    time.Duration   // limit of one attempt
	ResultTTL  time.Duration   // how long the record is kept once finished
	Crashes    int             // attempts whose worker was lost mid-attempt
	CreatedAt  time.Time
	// RunAt is when a task submitted with a delay or a run time falls due
	// (it is scheduled until then, queued after); zero for a task queued
	// at once.
	RunAt      time.Time
	StartedAt  time.Time // of the last attempt
	FinishedAt time.Time
	// Broadcast holds the answers of the target workers of a broadcast
	// task; nil for any other task.
	Broadcast *BroadcastResults
	// Replayed is set on a submission's answer when the task already
	// existed: submitted before with the same idempotency key, or holding
	// the unique key the submission asked for. It is not stored.
	Replayed bool
	// Progress is the last progress the handler reported (Task.Progress);
	// nil when none was.
	Progress *Progress
	// CancelRequestedAt is when a cancel was asked while the task ran;
	// zero when none was. The task stays running until its worker stops
	// the handler and records it canceled.
	CancelRequestedAt time.Time
	// CallbackURL is where the task's final record is POSTed once it
	// ends (a webhook); "" for none.
	CallbackURL string
	// Webhook is the state of that delivery, once the task has ended;
	// nil before, and for a task without a callback URL.
	Webhook *WebhookDelivery
}

// recordJSON is Record's JSON form: snake_case names, durations as Go
// duration strings ("30s"), and what is unset left out.
type recordJSON struct {
	ID         uuid.UUID       `json:"id"`
	Name       string          `json:"name"`
	Queue      string          `json:"queue"`
	Status     Status          `json:"status"`
	Payload    json.RawMessage `json:"payload"`
	Result     json.RawMessage `json:"result,omitempty"`
	Error      string          `json:"error,omitempty"`
	Attempts   int             `json:"attempts"`
	MaxRetries int             `json:"max_retries"`
	Timeout    string          `json:"timeout"`
	ResultTTL  string          `json:"result_ttl"`
	Crashes    int             `json:"crashes,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	RunAt      time.Time       `json:"run_at,omitzero"`
	StartedAt  time.Time       `json:"started_at,omitzero"`
	FinishedAt time.Time       `json:"finished_at,omitzero"`

	Broadcast         *BroadcastResults `json:"broadcast,omitempty"`
	Replayed          bool              `json:"replayed,omitempty"`
	Progress          *Progress         `json:"progress,omitempty"`
	CancelRequestedAt time.Time         `json:"cancel_requested_at,omitzero"`
	CallbackURL       string            `json:"callback_url,omitempty"`
	Webhook           *WebhookDelivery  `json:"webhook,omitempty"`
}

// MarshalJSON renders r as the HTTP API shows it.
func (r Record) MarshalJSON() ([]byte, error) {
	payload := r.Payload
	if len(payload) == 0 {
		payload = json.RawMessage("null")
	}
	return json.Marshal(recordJSON{
		ID: r.ID, Name: r.Name, Queue: r.Queue, Status: r.Status, Payload: payload,
		Result: r.Result, Error: r.Error, Attempts: r.Attempts, MaxRetries: r.MaxRetries,
		Timeout: r.Timeout.String(), ResultTTL: r.ResultTTL.String(), Crashes: r.Crashes,
		CreatedAt: r.CreatedAt, RunAt: r.RunAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		Broadcast: r.Broadcast,
		Replayed:  r.Replayed,
		Progress:  r.Progress, CancelRequestedAt: r.CancelRequestedAt,
		CallbackURL: r.CallbackURL, Webhook: r.Webhook,
	})
}

// UnmarshalJSON reads a record as MarshalJSON writes it.
func (r *Record) UnmarshalJSON(b []byte) error {
	var j recordJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	timeout, err := parseDuration(j.Timeout)
	if err != nil {
		return fmt.Errorf("results: record field timeout: %w", err)
	}
	ttl, err := parseDuration(j.ResultTTL)
	if err != nil {
		return fmt.Errorf("results: record field result_ttl: %w", err)
	}
	*r = Record{
		ID: j.ID, Name: j.Name, Queue: j.Queue, Status: j.Status, Payload: j.Payload,
		Result: j.Result, Error: j.Error, Attempts: j.Attempts, MaxRetries: j.MaxRetries,
		Timeout: timeout, ResultTTL: ttl, Crashes: j.Crashes,
		CreatedAt: j.CreatedAt, RunAt: j.RunAt, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt,
		Broadcast: j.Broadcast,
		Replayed:  j.Replayed,
		Progress:  j.Progress, CancelRequestedAt: j.CancelRequestedAt,
		CallbackURL: j.CallbackURL, Webhook: j.Webhook,
	}
	return nil
}

// parseDuration reads a duration string; "" is 0.
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	return time.ParseDuration(s)
}
