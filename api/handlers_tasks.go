package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// submit handles POST /v1/tasks[?wait=5s]: 202 with the record and a
// Location header; 429 when the queue is full, after waiting up to the
// wait for room when one is given (see waitForRoom).
func (s *server) submit(c echo.Context) error {
	wait, err := s.waitParam(c)
	if err != nil {
		return err
	}
	body, err := readJSON(c)
	if err != nil {
		return err
	}
	req, err := decodeRequest(body)
	if err != nil {
		return err
	}
	if err := idempotencyHeader(c, &req); err != nil {
		return err
	}
	rec, err := s.tasks.Submit(c.Request().Context(), req)
	if wait > 0 && errors.Is(err, tasks.ErrQueueFull) {
		return s.waitForRoom(c, []tasks.Request{req}, err, false, wait)
	}
	if err != nil {
		return err
	}
	setLocation(c, rec.ID)
	return writeRecord(c, submitted(c, rec), &rec)
}

// submitBatch handles POST /v1/tasks/batch[?wait=5s] {"tasks": [...]}:
// 202 with the records in order, or an error naming the first bad task,
// with nothing queued; 429, queuing none, when a queue lacks room for its
// tasks, after waiting for it as submit does.
func (s *server) submitBatch(c echo.Context) error {
	if err := noBatchIdempotencyHeader(c); err != nil {
		return err
	}
	wait, err := s.waitParam(c)
	if err != nil {
		return err
	}
	body, err := readJSON(c)
	if err != nil {
		return err
	}
	reqs, err := decodeBatch(body)
	if err != nil {
		return err
	}
	recs, err := s.tasks.SubmitBatch(c.Request().Context(), reqs)
	if wait > 0 && errors.Is(err, tasks.ErrQueueFull) {
		return s.waitForRoom(c, reqs, err, true, wait)
	}
	if err != nil {
		return err
	}
	return writeRecords(c, submittedBatch(c, recs), recs)
}

// waitParam reads ?wait=, capped at MaxWait: 0 when absent.
func (s *server) waitParam(c echo.Context) (time.Duration, error) {
	if c.Request().URL.RawQuery == "" {
		return 0, nil // the usual submission: no query to parse
	}
	w := c.QueryParam("wait")
	if w == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(w)
	if err != nil || d < 0 {
		return 0, invalid(fmt.Sprintf("invalid wait %q: use a duration such as \"10s\" (at most %s)", truncate(w, 32), s.cfg.MaxWait))
	}
	return min(d, s.cfg.MaxWait), nil
}

// getTask handles GET /v1/tasks/{id}[?wait=10s]: the record, after waiting
// for a terminal status up to the wait (capped at MaxWait) when one is
// given; on HTTP/1.1 the wait is parked, holding no goroutine (park.go).
func (s *server) getTask(c echo.Context) error {
	id, err := parseID(c)
	if err != nil {
		return err
	}
	timeout, err := s.waitParam(c) // no wait given: none
	if err != nil {
		return err
	}
	switch {
	case timeout == 0:
		rec, err := s.tasks.Get(c.Request().Context(), id)
		if err != nil {
			return err
		}
		return writeRecord(c, http.StatusOK, &rec)
	case parkable(c):
		return s.park(c, id, timeout)
	}
	return s.wait(c, id, timeout)
}

// wait answers a long poll by blocking on the Reader (HTTP/2, or a
// ResponseWriter that cannot be hijacked): see park.
func (s *server) wait(c echo.Context, id uuid.UUID, timeout time.Duration) error {
	ctx := c.Request().Context()
	rec, err := s.waiter.Wait(ctx, id, timeout)
	if err != nil {
		if ctx.Err() != nil {
			return nil // the client has gone
		}
		return err
	}
	return writeRecord(c, http.StatusOK, &rec)
}

// cancelTask handles DELETE /v1/tasks/{id}: 200 with the canceled record
// (also for a task canceled before: a resent DELETE is harmless); 202 with
// the record of a running task, whose cancel is asked of its worker (it is
// still running, cancel_requested_at set; it ends canceled soon after; a
// running broadcast task is canceled at once instead: 200); or 409 when
// the task has finished.
func (s *server) cancelTask(c echo.Context) error {
	id, err := parseID(c)
	if err != nil {
		return err
	}
	rec, err := s.tasks.Cancel(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if rec.Status == results.StatusRunning {
		return writeRecord(c, http.StatusAccepted, &rec)
	}
	return writeRecord(c, http.StatusOK, &rec)
}

func parseID(c echo.Context) (uuid.UUID, error) {
	return parseTaskID(c.Param("id"))
}

// parseTaskID accepts only the canonical 36-character form of a UUID
// (uuid.Parse alone also takes braces, a urn: prefix and no hyphens). A
// UUID of another version or variant than runq's IDs is well formed: the
// broker answers it as no task (404).
func parseTaskID(raw string) (uuid.UUID, error) {
	id, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		return uuid.UUID{}, invalid(fmt.Sprintf("invalid task id %q: want a UUID such as 0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77", truncate(raw, 40)))
	}
	return id, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
