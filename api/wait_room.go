package api

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/runq/runq/api/internal/parking"
	"github.com/runq/runq/api/internal/wirejson"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// A submission with ?wait= that a full queue refused waits for room as a
// long poll waits for a task: parked on HTTP/1.1, its connection held by
// package parking and the wait by tasks.Client.ParkSubmit, with no
// goroutine of its own; blocked elsewhere (HTTP/2), under
// tasks.WaitForRoom. Either way it is submitted again each time the queue
// may have room (a refused submission wrote nothing), and answered 202
// once it gets in, or 429 when the wait runs out.

// waitForRoom answers rs, a submission (a batch when batch) refused for
// lack of room with the error refused, after waiting up to wait for room.
func (s *server) waitForRoom(c echo.Context, rs []tasks.Request, refused error, batch bool, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	if parkable(c) && s.parkSubmit(c, rs, refused, batch, deadline) {
		return nil
	}
	ctx, cancel := context.WithDeadline(tasks.WaitForRoom(c.Request().Context()), deadline)
	defer cancel()
	if batch {
		recs, err := s.tasks.SubmitBatch(ctx, rs)
		if err != nil {
			return err
		}
		return writeRecords(c, submittedBatch(c, recs), recs)
	}
	rec, err := s.tasks.Submit(ctx, rs[0])
	if err != nil {
		return err
	}
	setLocation(c, rec.ID)
	return writeRecord(c, submitted(c, rec), &rec)
}

// parkSubmit parks the submission rs until deadline, and reports whether
// it did: false when the connection could not be hijacked, which leaves
// the request to its handler.
func (s *server) parkSubmit(c echo.Context, rs []tasks.Request, refused error, batch bool, deadline time.Time) bool {
	began := time.Now()
	h := c.Response().Header()
	if h.Get(echo.HeaderContentType) == "" { // every answer of the route is JSON
		h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	}
	var cancel func() bool
	conn := parking.New(h, &s.hangups, func() { cancel() })
	hc, _, err := c.Response().Hijack()
	if err != nil {
		conn.Abandon()
		return false
	}
	c.Response().Writer = hijacked{} // as in park: no buffers kept
	reqID, path, indent := h.Get(echo.HeaderXRequestID), c.Path(), indented(c)
	cancel = s.tasks.ParkSubmit(rs, refused, deadline, func(recs []results.Record, err error) {
		s.answerSubmit(conn, reqID, path, indent, began, batch, recs, err)
	})
	conn.Hold(hc)
	return true
}

// answerSubmit answers a parked submission, parked at began, with its
// records (202, and a Location for a single task) or err, as the handler
// would have.
func (s *server) answerSubmit(conn *parking.Conn, reqID, path string, indent bool, began time.Time, batch bool,
	recs []results.Record, err error) {
	var b []byte
	var extra []string
	status := http.StatusAccepted
	switch {
	case err == nil && batch && indent:
		b, err = encode(nil, batchBody[results.Record]{Tasks: recs}, true)
	case err == nil && batch:
		if b, err = appendRecords(b, recs); err == nil {
			b = append(b, '\n')
		}
	case err == nil && indent:
		b, err = encode(nil, recs[0], true)
	case err == nil:
		if b, err = wirejson.AppendRecord(b, &recs[0], new(wirejson.Durations)); err == nil {
			b = append(b, '\n')
		}
	}
	if err == nil && !batch {
		extra = append(extra, "Location: /v1/tasks/"+recs[0].ID.String())
	}
	if err == nil && allReplayed(recs) {
		status = http.StatusOK
		extra = append(extra, headerReplayed+": true")
	}
	if err != nil {
		var body errorBody
		status, body = s.describe(err, reqID, http.MethodPost, path)
		b, _ = encode(nil, body, indent) // an errorBody always encodes
		extra = nil
		if retryable(status) {
			extra = append(extra, "Retry-After: "+retryAfter)
		}
	}
	s.observeParked(http.MethodPost, path, status, began)
	conn.Answer(status, b, extra...)
}
