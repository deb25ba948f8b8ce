package client

import (
	"net/http"

	"github.com/runq/runq/tasks"
)

// replayed reports whether resp answers a submission (want 202) with a
// task that already existed: 200, under an idempotency or unique key. Its
// record says Replayed.
func replayed(want int, resp *http.Response) bool {
	return want == http.StatusAccepted && resp.StatusCode == http.StatusOK
}

// As makes errors.As(err, &dup) give a 409 "duplicate" answer as a
// *tasks.DuplicateError naming the task holding the unique key.
func (e *Error) As(target any) bool {
	dup, ok := target.(**tasks.DuplicateError)
	if !ok || e.Code != "duplicate" {
		return false
	}
	*dup = &tasks.DuplicateError{Holder: e.TaskID}
	return true
}
