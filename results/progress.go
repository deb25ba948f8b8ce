package results

import (
	"encoding/json"
	"time"
)

// Progress is how far a running task has come, as its handler last
// reported it (tasks.Task.Progress).
type Progress struct {
	Value   float64         `json:"value"`             // 0 to 1
	Message json.RawMessage `json:"message,omitempty"` // the handler's JSON, if any
	At      time.Time       `json:"at"`                // when it was written, Redis clock
}
