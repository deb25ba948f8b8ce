// Package parking holds the connections of long polls with no goroutine
// while they wait: a connection taken over from net/http (hijacked) is kept
// as a Conn until its answer is written, and on Linux one goroutine
// blocked in epoll notices a client that hangs up meanwhile. A blocked
// poll holds two goroutines (its handler and net/http's background
// reader) and the connection's buffers, about 24 KiB; a parked one, its
// net.Conn and a few hundred bytes.
//
// It stays because it wins: measured with `runq bench --only waiters` on
// the 2-vCPU build machine, 10,000 long polls added 29-34 MiB to the API
// process parked against 270-273 MiB blocked, one goroutine against
// 20,000. See cmd/runq/BENCHMARKS.md.
package parking

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// writeTimeout bounds writing an answer.
const writeTimeout = 5 * time.Second

// Conn is a long poll's connection, held until its answer.
//
// The answer is written as net/http writes any other: the status line, the
// headers captured by New (sorted and sanitized, as net/http's server
// writes them), any extra ones, then Date and Content-Length, and the
// body; it adds "Connection: close" and closes, as nothing reads the
// connection any more. On Linux a client that goes away while held is
// noticed at once (see Hangups); elsewhere not until its answer is written.
type Conn struct {
	head []byte // the captured headers, as net/http writes them
	w    *Hangups
	gone func() // called once when the client hangs up while held

	mu    sync.Mutex
	conn  net.Conn // set by Hold
	early []byte   // an answer that came before Hold
	done  bool     // answered, abandoned, or its client gone
	fd    int      // of conn, while w watches it
	seq   int32    // of that watch
}

// New captures the headers of h for the answer, to be held with w
// watching for hangups; gone is called if the client hangs up while held.
func New(h http.Header, w *Hangups, gone func()) *Conn {
	var head bytes.Buffer
	_ = h.Write(&head) // sorted and sanitized, as net/http's server writes them
	return &Conn{head: head.Bytes(), w: w, gone: gone}
}

// Hold takes over conn, hijacked from net/http. An answer that came
// before is written at once.
func (c *Conn) Hold(conn net.Conn) {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		_ = conn.Close()
		return
	}
	early := c.early
	if early == nil {
		c.conn = conn
		c.w.watch(c)
		c.mu.Unlock()
		return
	}
	c.done = true
	c.mu.Unlock()
	c.write(conn, early)
}

// Answer writes the answer, status and body, with extra headers given as
// "Name: value", and closes the connection; before Hold, it keeps the
// answer for Hold. An answer after the first, or after Abandon, is
// dropped. body may be reused once Answer returns.
func (c *Conn) Answer(status int, body []byte, extra ...string) {
	b := make([]byte, 0, len(c.head)+len(body)+160)
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\n"...)
	b = append(b, c.head...)
	for _, h := range extra {
		b = append(b, h...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Date: "...)
	b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\nConnection: close\r\n\r\n"...)
	b = append(b, body...)

	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return
	}
	if c.conn == nil {
		c.early = b
		c.mu.Unlock()
		return
	}
	conn := c.conn
	c.done = true
	c.mu.Unlock()
	c.write(conn, b)
}

// Abandon gives up c before Hold: the handler answers the poll itself.
func (c *Conn) Abandon() {
	c.mu.Lock()
	c.done = true
	c.mu.Unlock()
}

// hangup closes c's connection, its client having gone.
func (c *Conn) hangup() {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return
	}
	c.done = true
	c.mu.Unlock()
	c.gone()
	c.w.forget(c)
	_ = c.conn.Close()
}

// write writes the answer b to conn and closes it.
func (c *Conn) write(conn net.Conn, b []byte) {
	c.w.forget(c) // before Close, which frees the fd's number
	_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, _ = conn.Write(b) // a client gone meanwhile is no one's concern
	_ = conn.Close()
}
