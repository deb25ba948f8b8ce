package wirejson

import (
	"encoding/json"

	"github.com/runq/runq/results"
)

// appendLive appends the fields of a running task's record that progress
// and cancelling set, when set: few records have them, so encoding/json
// writes them.
func appendLive(b []byte, r *results.Record) ([]byte, error) {
	var err error
	if r.Progress != nil {
		b = append(b, `,"progress":`...)
		out, err := json.Marshal(r.Progress)
		if err != nil {
			return b, err
		}
		b = append(b, out...)
	}
	if !r.CancelRequestedAt.IsZero() {
		b = append(b, `,"cancel_requested_at":`...)
		b, err = appendTime(b, r.CancelRequestedAt)
	}
	return b, err
}
