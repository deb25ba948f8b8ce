package api

import (
	"cmp"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/runq/runq/api/internal/wirejson"
	"github.com/runq/runq/tasks"
)

// taskEvents handles GET /v1/tasks/{id}/events: the task's events as
// server-sent events, each "id: <event ID>", "event: <kind>" (status,
// progress, end) and "data: <the record as GET shows it>", ending with
// the end event; a comment every 15 s keeps an idle stream open. Each
// write must reach the client within streamWriteTimeout, or the stream
// ends: a client that stops reading does not hold the handler forever.
// Last-Event-ID (or ?last_event_id=) resumes after an event. Errors found
// before the first event (404, 400 for a bad Last-Event-ID) are answered
// as usual; later ones end the stream.
func (s *server) taskEvents(c echo.Context) error {
	id, err := parseID(c)
	if err != nil {
		return err
	}
	last := c.Request().Header.Get("Last-Event-ID")
	if last == "" {
		last = c.QueryParam("last_event_id")
	}
	w := c.Response()
	timeout := cmp.Or(s.streamWrite, streamWriteTimeout)
	started := false
	var buf []byte
	err = s.tasks.Events(c.Request().Context(), id, last, func(ev tasks.TaskEvent) error {
		if !started {
			started = true
			startStream(w, timeout)
		}
		buf = buf[:0]
		if ev.Kind == tasks.EventIdle {
			buf = append(buf, ": idle\n\n"...)
		} else {
			buf = append(buf, "id: "...)
			buf = append(buf, ev.ID...)
			buf = append(buf, "\nevent: "...)
			buf = append(buf, ev.Kind...)
			buf = append(buf, "\ndata: "...)
			var err error
			if buf, err = wirejson.AppendRecord(buf, &ev.Record, new(wirejson.Durations)); err != nil {
				return err
			}
			buf = append(buf, "\n\n"...)
		}
		return writeEvent(http.NewResponseController(w), w, buf, time.Now().Add(timeout))
	})
	if !started {
		return err
	}
	if err != nil && c.Request().Context().Err() == nil && !errors.Is(err, tasks.ErrClosed) {
		s.cfg.Logger.Warn("event stream ended by an error", "task_id", id, "err", err)
	}
	return nil
}

// streamWriteTimeout bounds one write of an event stream (an event or a
// keepalive), flush included.
const streamWriteTimeout = 30 * time.Second

// writeEvent writes buf to an event stream and flushes it, both by
// deadline; an error (the deadline passed: the client stopped reading, or
// it went away) ends the stream.
func writeEvent(rc *http.ResponseController, w io.Writer, buf []byte, deadline time.Time) error {
	if err := rc.SetWriteDeadline(deadline); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := w.Write(buf); err != nil {
		return err
	}
	return rc.Flush()
}

// startStream writes the headers of an event stream, lifts the server's
// read deadline, which bounds requests, not streams (its passing would
// also cancel the request's context), and sets a write deadline for the
// headers; each event sets its own (writeEvent).
func startStream(w *echo.Response, timeout time.Duration) {
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // no proxy buffering (nginx)
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Now().Add(timeout))
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush() // an error shows again at the first event's write
}
