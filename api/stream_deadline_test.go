package api

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// deadlineWriter records the write deadline in force at each write, and
// fails writes made after it passed, as a connection does.
type deadlineWriter struct {
	*httptest.ResponseRecorder
	now      time.Time
	deadline time.Time
	seen     []time.Time
}

func (w *deadlineWriter) SetWriteDeadline(d time.Time) error { w.deadline = d; return nil }

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.seen = append(w.seen, w.deadline)
	if !w.deadline.IsZero() && w.now.After(w.deadline) {
		return 0, os.ErrDeadlineExceeded
	}
	return w.ResponseRecorder.Write(p)
}

// TestWriteEventDeadline: every write of an event stream (keepalive
// included) goes out under a deadline, and a write past it ends the
// stream with an error.
func TestWriteEventDeadline(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	w := &deadlineWriter{ResponseRecorder: httptest.NewRecorder(), now: now}
	rc := http.NewResponseController(w)
	for _, msg := range []string{": idle\n\n", "id: 1\nevent: end\ndata: {}\n\n"} {
		if err := writeEvent(rc, w, []byte(msg), now.Add(streamWriteTimeout)); err != nil {
			t.Fatalf("writeEvent(%q) = %v, want nil", msg, err)
		}
	}
	for i, d := range w.seen {
		if !d.Equal(now.Add(streamWriteTimeout)) {
			t.Errorf("write %d deadline = %v, want %v", i, d, now.Add(streamWriteTimeout))
		}
	}
	w.now = now.Add(streamWriteTimeout + time.Second) // the client stopped reading
	if err := writeEvent(rc, w, []byte(": idle\n\n"), now.Add(streamWriteTimeout)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("writeEvent past the deadline = %v, want os.ErrDeadlineExceeded", err)
	}
}

// endlessEvents is a Tasks whose event stream never ends by itself: it
// sends large events as fast as they are taken, and reports how the
// stream ended.
type endlessEvents struct {
	Tasks
	ended chan error
}

func (e endlessEvents) Events(ctx context.Context, id uuid.UUID, _ string, fn func(tasks.TaskEvent) error) error {
	ev := tasks.TaskEvent{ID: "1", Kind: tasks.EventStatus}
	ev.Record = results.Record{ID: id, Status: results.StatusRunning,
		Payload: json.RawMessage(`"` + strings.Repeat("x", 64<<10) + `"`)}
	for {
		if err := fn(ev); err != nil {
			e.ended <- err
			return err
		}
		if ctx.Err() != nil {
			e.ended <- ctx.Err()
			return ctx.Err()
		}
	}
}

// TestEventStreamStalledClient opens an event stream on a raw TCP
// connection with a small receive buffer and never reads it: once the
// socket buffers are full, a write waits out its deadline and the stream
// ends, instead of holding the handler for good.
func TestEventStreamStalledClient(t *testing.T) {
	t.Parallel()
	fake := endlessEvents{ended: make(chan error, 1)}
	s := &server{cfg: Config{}.withDefaults(), tasks: fake, streamWrite: 200 * time.Millisecond}
	e := echo.New()
	e.GET("/v1/tasks/:id/events", s.taskEvents)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	addr, err := net.ResolveTCPAddr("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTCP("tcp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetReadBuffer(4096)
	id := uuid.Must(uuid.NewV7())
	if _, err := conn.Write([]byte("GET /v1/tasks/" + id.String() + "/events HTTP/1.1\r\nHost: runq\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-fake.ended:
		if err == nil {
			t.Errorf("stream to a client that never reads ended with nil, want a write error")
		}
		t.Logf("the stream ended: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the stream to a client that never reads still runs after 20 s, want it ended by the write deadline")
	}
}
