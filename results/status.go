package results

// Status is where a task is in its life. The same text is used in Go, in
// JSON and in the task's Redis hash (broker's Lua scripts write it).
type Status string

// Statuses of a task.
const (
	StatusScheduled Status = "scheduled" // waiting for its run time (RunAt)
	StatusQueued    Status = "queued"    // waiting for a worker
	StatusRunning   Status = "running"   // a worker holds its lease and runs it
	StatusRetrying  Status = "retrying"  // an attempt failed; waiting for the next
	StatusSucceeded Status = "succeeded" // terminal: result stored
	StatusFailed    Status = "failed"    // terminal: retries ran out, or not retryable
	StatusCanceled  Status = "canceled"  // terminal: canceled before it started
)

// Terminal reports whether s is final: succeeded, failed or canceled.
func (s Status) Terminal() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusCanceled
}

// Valid reports whether s is one of the statuses above.
func (s Status) Valid() bool {
	switch s {
	case StatusScheduled, StatusQueued, StatusRunning, StatusRetrying, StatusSucceeded, StatusFailed, StatusCanceled:
		return true
	}
	return false
}
