package results

import (
	"encoding/json"
	"time"
)

// BroadcastResults is what the target workers of a broadcast task answered:
// the task runs once on each worker that was live, registered its name and
// served its queue when it was submitted.
type BroadcastResults struct {
	Targets int                     `json:"targets"` // workers the task was sent to
	Workers map[string]WorkerAnswer `json:"workers"` // by worker ID, one per target
}

// WorkerAnswer is one target worker's part of a broadcast task. Times are
// UTC on Redis's clock; zero when it has not started or finished.
type WorkerAnswer struct {
	Status     WorkerStatus    `json:"status"`
	Result     json.RawMessage `json:"result,omitempty"` // the handler's output, once succeeded
	Error      string          `json:"error,omitempty"`  // why it failed or is missing
	StartedAt  time.Time       `json:"started_at,omitzero"`
	FinishedAt time.Time       `json:"finished_at,omitzero"`
}

// WorkerStatus is where one target worker stands with a broadcast task.
type WorkerStatus string

// The WorkerStatus values. A target's answer is final once succeeded,
// failed or missing; the task ends when every answer is final.
const (
	WorkerPending   WorkerStatus = "pending"   // in the worker's inbox, not started
	WorkerRunning   WorkerStatus = "running"   // its handler runs on the worker
	WorkerSucceeded WorkerStatus = "succeeded" // the handler returned a result
	WorkerFailed    WorkerStatus = "failed"    // the handler returned an error (not retried)
	WorkerMissing   WorkerStatus = "missing"   // the worker died or stopped before it answered
)

// Final reports whether s is an answer that no longer changes.
func (s WorkerStatus) Final() bool {
	return s == WorkerSucceeded || s == WorkerFailed || s == WorkerMissing
}
