package broker

import (
	"encoding/json"
	"fmt"

	"github.com/runq/runq/broker/internal/layout"
	"github.com/runq/runq/results"
)

// storedProgress is the progress field of a task's hash, as progress.lua
// writes it: the time is ms on Redis's clock.
type storedProgress struct {
	Value   float64         `json:"value"`
	Message json.RawMessage `json:"message"`
	At      int64           `json:"at"`
}

// decodeLive reads the fields of a running task's hash that cancelling
// and progress write into r.
func decodeLive(d *decoder, r *results.Record) {
	r.CancelRequestedAt = d.time(layout.FieldCancel)
	raw, ok := d.h[layout.FieldProgress]
	if !ok {
		return
	}
	var p storedProgress
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		d.fail(fmt.Errorf("field %s: %v", layout.FieldProgress, err))
		return
	}
	at, ok := msTime(p.At)
	if !ok {
		d.fail(fmt.Errorf("field %s: time %d is out of range", layout.FieldProgress, p.At))
		return
	}
	r.Progress = &results.Progress{Value: p.Value, Message: p.Message, At: at}
	if string(p.Message) == "null" {
		r.Progress.Message = nil
	}
}
