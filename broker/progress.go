package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

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

// Progress records the progress of c's attempt: value (0 to 1, finite)
// and message (JSON, or nil for none), as the task's "progress", if the
// attempt still runs under its lease token and holds the lease (its ID
// is in the lease's set: the fence finish.lua applies to an outcome);
// false, writing nothing, when it does not. The caller bounds the size
// and the rate (tasks.Task.Progress).
func (b *Broker) Progress(ctx context.Context, c *Claimed, value float64, message []byte) (bool, error) {
	keys := []string{b.keys.Task(c.ID), b.keys.TaskEvents(c.ID), b.keys.LeaseTasks(c.Queue, c.Token)}
	v := strconv.FormatFloat(value, 'g', -1, 64)
	n, err := progressScript.Run(ctx, b.rdb, keys, c.Token, v, message, b.keys.Changes()).Int()
	if err != nil {
		return false, fmt.Errorf("broker: progress of %s: %w", c.ID, err)
	}
	return n == 1, nil
}
