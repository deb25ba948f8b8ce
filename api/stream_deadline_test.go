package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
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
