package api

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/runq/runq/results"
)

// A long poll on HTTP/1.1 is parked rather than blocked: its
// connection is hijacked, its handler returns, and the Reader's Park calls
// back when the task finishes, the wait ends or the watcher stops. A
// blocked poll holds two goroutines (its handler and net/http's background
// reader, 10 KiB of stacks) and the connection's bufio buffers (12 KiB);
// a parked one holds its net.Conn, a poll and a results.Parked.
//
// The answer is written as net/http writes the blocking path's: the same
// status line, the headers set so far (middlewares' and Content-Type),
// sorted, then Date and Content-Length, the same body; it adds
// "Connection: close" and closes, as nothing reads the connection any more.
// A body of over 2 KiB, which net/http sends chunked, is sent with its
// Content-Length. On Linux a client that goes away while parked is noticed
// at once (epoll, in hangups); elsewhere not until its answer is written.

// parkWriteTimeout bounds writing a parked poll's answer.
const parkWriteTimeout = 5 * time.Second

// parkable reports whether a long poll on c can be parked: a GET on
// HTTP/1.1 whose ResponseWriter can be hijacked (HTTP/2's cannot).
func parkable(c echo.Context) bool {
	r := c.Request()
	if r.Method != http.MethodGet || r.ProtoMajor != 1 || r.ProtoMinor < 1 {
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
	deadline := time.Now().Add(timeout)
	p := s.newPoll(c)
	parked := s.waiter.Park(id, deadline, p.answer)
	ctx := c.Request().Context()
	rec, err := s.waiter.Read(ctx, id)
	if err != nil || rec.Status.Terminal() {
		p.abandon(parked)
		if err != nil && ctx.Err() != nil {
			return nil // the client has gone
		} else if err != nil {
			return err
		}
		return writeRecord(c, http.StatusOK, &rec)
	}
	conn, _, err := c.Response().Hijack()
	if err != nil {
		p.abandon(parked)
		return s.wait(c, id, time.Until(deadline))
	}
	// Neither the hijack's bufio pair nor echo's pooled context may keep
	// the connection's buffers: many contexts sit in the pool after a
	// burst of polls.
	c.Response().Writer = hijacked{}
	p.parked = parked
	p.hold(conn)
	return nil
}

// hijacked stands for the ResponseWriter of a hijacked connection.
type hijacked struct{}

func (hijacked) Header() http.Header        { return http.Header{} }
func (hijacked) Write([]byte) (int, error)  { return 0, http.ErrHijacked }
func (hijacked) WriteHeader(statusCode int) {}

// poll is a parked long poll: what its answer needs once its handler has
// returned and echo has reused its context.
type poll struct {
	s      *server
	head   []byte // the headers set so far, as net/http writes them
	reqID  string // for error bodies
	path   string // the route, for logs
	indent bool   // as c.JSON would (indented)

	parked *results.Parked // set before hold

	mu    sync.Mutex
	conn  net.Conn    // set by hold; nil while the handler runs
	early *pollAnswer // an answer that came before hold
	done  bool        // answered, abandoned, or its client gone
	fd    int         // of conn, while s.hangups watches it
	seq   int32       // of that watch
}

type pollAnswer struct {
	rec results.Record
	err error
}

// newPoll captures what c's answer needs. Every answer of the route is
// JSON, so its Content-Type is set now, as c.JSON would set it.
func (s *server) newPoll(c echo.Context) *poll {
	h := c.Response().Header()
	if h.Get(echo.HeaderContentType) == "" {
		h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	}
	var head bytes.Buffer
	_ = h.Write(&head) // sorted and sanitized, as net/http's server writes them
	return &poll{s: s, head: head.Bytes(), reqID: h.Get(echo.HeaderXRequestID), path: c.Path(),
		indent: indented(c)}
}

// answer is the callback of Park: it writes the answer and closes, or,
// before hold, keeps the answer for hold.
func (p *poll) answer(rec results.Record, err error) {
	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		return
	}
	if p.conn == nil {
		p.early = &pollAnswer{rec, err}
		p.mu.Unlock()
		return
	}
	conn := p.conn
	p.done = true
	p.mu.Unlock()
	p.write(conn, rec, err)
}

// hold hands conn to the parked poll, answering at once if the answer has
// already come.
func (p *poll) hold(conn net.Conn) {
	p.mu.Lock()
	early := p.early
	if early == nil {
		p.conn = conn
		p.s.hangups.watch(p)
		p.mu.Unlock()
		return
	}
	p.done = true
	p.mu.Unlock()
	p.write(conn, early.rec, early.err)
}

// hangup closes p's connection, its client having gone, and unparks it.
func (p *poll) hangup() {
	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		return
	}
	p.done = true
	p.mu.Unlock()
	p.parked.Cancel()
	p.s.hangups.forget(p)
	_ = p.conn.Close()
}

// abandon unparks p; the handler answers instead.
func (p *poll) abandon(parked *results.Parked) {
	parked.Cancel()
	p.mu.Lock()
	p.done = true
	p.mu.Unlock()
}

// write writes the answer of rec or err to conn and closes it.
func (p *poll) write(conn net.Conn, rec results.Record, err error) {
	bp := renderBufs.Get().(*[]byte)
	status, body := p.body((*bp)[:0], &rec, err)
	b := make([]byte, 0, len(p.head)+len(body)+128)
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\n"...)
	b = append(b, p.head...)
	b = append(b, "Date: "...)
	b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
	if status == http.StatusServiceUnavailable {
		b = append(b, "\r\nRetry-After: "+retryAfter...)
	}
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\nConnection: close\r\n\r\n"...)
	b = append(b, body...)
	if cap(body) <= maxPooledBuf {
		*bp = body[:0]
		renderBufs.Put(bp)
	}
	p.s.hangups.forget(p) // before Close, which frees the fd's number
	_ = conn.SetWriteDeadline(time.Now().Add(parkWriteTimeout))
	_, _ = conn.Write(b) // a client gone meanwhile is no one's concern
	_ = conn.Close()
}

// body appends to b the body c.JSON writes for rec, or handleError for err,
// and returns it with its status.
func (p *poll) body(b []byte, rec *results.Record, err error) (int, []byte) {
	if err == nil {
		var out []byte
		if p.indent {
			out, err = p.encode(b, rec)
		} else if out, err = appendRecord(b, rec, new(durationTexts)); err == nil {
			out = append(out, '\n') // json.Encoder ends with a newline
		}
		if err == nil {
			return http.StatusOK, out
		}
	}
	status, eb := p.s.describe(err, p.reqID, http.MethodGet, p.path)
	out, _ := p.encode(b, eb) // an errorBody always encodes
	return status, out
}

// encode appends v as echo's DefaultJSONSerializer writes it.
func (p *poll) encode(b []byte, v any) ([]byte, error) {
	buf := bytes.NewBuffer(b)
	enc := json.NewEncoder(buf)
	if p.indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return b, err
	}
	return buf.Bytes(), nil
}
