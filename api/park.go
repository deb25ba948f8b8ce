package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/runq/runq/api/internal/parking"
	"github.com/runq/runq/api/internal/wirejson"
	"github.com/runq/runq/results"
)

// A long poll on HTTP/1.1 is parked rather than blocked: its connection is
// hijacked and held by package parking, its handler returns, and the
// Waiter's Park calls back when the task finishes, the wait ends or the
// watcher stops. Its answer has the status, headers and body of any other
// answer (plus "Connection: close").

// parkable reports whether a long poll on c, or a submission waiting for
// room, can be parked: a GET or POST on HTTP/1.1 whose ResponseWriter can
// be hijacked (HTTP/2's cannot).
func parkable(c echo.Context) bool {
	r := c.Request()
	if (r.Method != http.MethodGet && r.Method != http.MethodPost) || r.ProtoMajor != 1 || r.ProtoMinor < 1 {
		return false
	}
	w := c.Response().Writer
	for {
		switch t := w.(type) {
		case http.Hijacker:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return false
		}
	}
}

// park waits for task id up to timeout on a parked connection. It parks
// before reading the record, so a task finishing in between is not missed,
// and reads it with Read, so a burst of polls does not queue for Redis
// connections (each poll in that queue holds a goroutine and its buffers),
// and answers in place, keeping the connection, when the task is already
// terminal or the read fails. When the hijack fails it falls back to
// blocking. A request pipelined behind the poll is dropped with the
// hijack's buffers and left unanswered, as "Connection: close" tells the
// client.
func (s *server) park(c echo.Context, id uuid.UUID, timeout time.Duration) error {
	began := time.Now()
	deadline := began.Add(timeout)
	h := c.Response().Header()
	if h.Get(echo.HeaderContentType) == "" { // every answer of the route is JSON
		h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	}
	var parked *results.Parked
	conn := parking.New(h, &s.hangups, func() { parked.Cancel() })
	reqID, path, indent := h.Get(echo.HeaderXRequestID), c.Path(), indented(c)
	parked = s.waiter.Park(id, deadline, func(rec results.Record, err error) {
		s.answerParked(conn, reqID, path, indent, began, &rec, err)
	})
	ctx := c.Request().Context()
	rec, err := s.waiter.Read(ctx, id)
	if err != nil || rec.Status.Terminal() {
		parked.Cancel()
		conn.Abandon()
		if err != nil && ctx.Err() != nil {
			return nil // the client has gone
		} else if err != nil {
			return err
		}
		return writeRecord(c, http.StatusOK, &rec)
	}
	hc, _, err := c.Response().Hijack()
	if err != nil {
		parked.Cancel()
		conn.Abandon()
		return s.wait(c, id, time.Until(deadline))
	}
	// Neither the hijack's bufio pair nor echo's pooled context may keep
	// the connection's buffers: many contexts sit in the pool after a
	// burst of polls.
	c.Response().Writer = hijacked{}
	conn.Hold(hc)
	return nil
}

// hijacked stands for the ResponseWriter of a hijacked connection.
type hijacked struct{}

func (hijacked) Header() http.Header        { return http.Header{} }
func (hijacked) Write([]byte) (int, error)  { return 0, http.ErrHijacked }
func (hijacked) WriteHeader(statusCode int) {}

// answerParked answers a parked poll, parked at began, with rec, or with
// err as handleError would, in the bytes c.JSON would write (indented if
// asked). The answer is counted first, so a client that has it can read
// the count.
func (s *server) answerParked(conn *parking.Conn, reqID, path string, indent bool, began time.Time, rec *results.Record, err error) {
	bp := renderBufs.Get().(*[]byte)
	b := (*bp)[:0]
	status := http.StatusOK
	if err == nil {
		if indent {
			b, err = encode(b, rec, true)
		} else if b, err = wirejson.AppendRecord(b, rec, new(wirejson.Durations)); err == nil {
			b = append(b, '\n') // json.Encoder ends with a newline
		}
	}
	var extra []string
	if err != nil {
		var body errorBody
		status, body = s.describe(err, reqID, http.MethodGet, path)
		b, _ = encode(b[:0], body, indent) // an errorBody always encodes
		if retryable(status) {
			extra = append(extra, "Retry-After: "+retryAfter)
		}
	}
	s.observeParked(http.MethodGet, path, status, began)
	conn.Answer(status, b, extra...)
	if cap(b) <= maxPooledBuf {
		*bp = b[:0]
		renderBufs.Put(bp)
	}
}

// encode appends v as echo's DefaultJSONSerializer writes it.
func encode(b []byte, v any, indent bool) ([]byte, error) {
	buf := bytes.NewBuffer(b)
	enc := json.NewEncoder(buf)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return b, err
	}
	return buf.Bytes(), nil
}
