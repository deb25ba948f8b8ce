package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/runq/runq/broker"
)

// ErrInvalidProgress reports a progress value outside 0 to 1, or a message
// that is not JSON-encodable or larger than MaxProgressMessage.
var ErrInvalidProgress = errors.New("tasks: invalid progress")

// MaxProgressMessage is the largest progress message, in bytes of JSON.
const MaxProgressMessage = 1 << 10

// ProgressInterval is the least time between two progress writes of one
// attempt: a handler may report as often as it likes, and the latest value
// is written at most this often.
const ProgressInterval = 250 * time.Millisecond

// Progress reports how far the attempt has come: value from 0 to 1, and
// message, any small JSON-encodable value (nil for none), shown as the
// task's "progress" (results.Record.Progress) and in its event stream.
// It never waits on Redis: the write happens in the background, at most
// once per ProgressInterval per attempt, and the latest value wins (a
// value superseded before it was written is never written; one pending
// when the handler returns is dropped). Writes are fenced by the lease:
// an attempt that lost its lease, or finished, writes nothing. Errors:
// ErrInvalidProgress, or ctx's error once it ended. On a Task not made by
// a Pool (a test's), Progress checks its arguments and does nothing else.
func (t *Task) Progress(ctx context.Context, value float64, message any) error {
	if math.IsNaN(value) || value < 0 || value > 1 {
		return fmt.Errorf("%w: value %v is not within 0 to 1", ErrInvalidProgress, value)
	}
	var msg []byte
	if message != nil {
		raw, err := json.Marshal(message)
		if err != nil {
			return fmt.Errorf("%w: message is not JSON-encodable: %v", ErrInvalidProgress, err)
		}
		if len(raw) > MaxProgressMessage {
			return fmt.Errorf("%w: message is %d bytes of JSON, over the limit of %d", ErrInvalidProgress, len(raw), MaxProgressMessage)
		}
		msg = raw
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if t.progress != nil {
		t.progress.report(value, msg)
	}
	return nil
}

// progressWriter writes the progress of one attempt, throttled.
type progressWriter struct {
	p *Pool
	c *broker.Claimed

	mu      sync.Mutex
	pending bool      // value and msg are to be written
	value   float64   // the latest value reported
	msg     []byte    // its message
	busy    bool      // a write runs or is timed: it takes the latest value
	last    time.Time // when the last write was sent
	stopped bool      // the attempt is over: nothing more is written
}

// report records the latest progress and makes sure a write will take
// it: at once, or ProgressInterval after the last.
func (w *progressWriter) report(value float64, msg []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	w.pending, w.value, w.msg = true, value, msg
	if w.busy {
		return
	}
	w.busy = true
	w.schedule()
}

// schedule starts the next write when its turn comes; w.mu is held.
func (w *progressWriter) schedule() {
	if wait := time.Until(w.last.Add(ProgressInterval)); wait > 0 {
		time.AfterFunc(wait, w.flush)
		return
	}
	go w.flush()
}

// flush writes the latest progress, then schedules the next write if a
// newer one came meanwhile.
func (w *progressWriter) flush() {
	w.mu.Lock()
	if !w.pending || w.stopped {
		w.busy = false
		w.mu.Unlock()
		return
	}
	value, msg := w.value, w.msg
	w.pending, w.last = false, time.Now()
	w.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	held, err := w.p.b.Progress(ctx, w.c, value, msg)
	cancel()
	switch {
	case err != nil:
		if !w.p.health.failed("write progress", err) {
			w.p.taskLog(w.c).Warn("writing progress failed", "err", err)
		}
	case !held:
		w.stop() // the attempt no longer holds its lease
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.pending || w.stopped {
		w.busy = false
		return
	}
	w.schedule()
}

// stop drops any progress not yet written: the attempt is over.
func (w *progressWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}
