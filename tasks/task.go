package tasks

import (
	"encoding/json"

	"github.com/google/uuid"
)

// Task is one attempt at a task, as a handler sees it.
type Task struct {
	ID         uuid.UUID
	Name       string
	Queue      string
	Payload    json.RawMessage
	Attempt    int // 1 for the first attempt
	MaxRetries int // retries allowed after the first failed attempt

	progress *progressWriter // set by the pool that runs the attempt
}
