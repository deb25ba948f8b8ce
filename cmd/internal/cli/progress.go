package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/runq/runq/api/client"
	"github.com/runq/runq/results"
)

// How a followed task is shown: a long poll lasts at most pollStep, so
// that a change of status short of the end (queued to running) shows
// within it, and a spinner frame lasts spinStep.
const (
	pollStep = 500 * time.Millisecond
	spinStep = 100 * time.Millisecond
)

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// follow shows the task of rec on stderr until it ends, and returns its
// last record: on a terminal, one line redrawn in place; else a line for
// each status it is seen in. An end of ctx, or an error of the API, ends
// it with an error that tells the status last seen.
func (s *session) follow(ctx context.Context, rec results.Record) (results.Record, error) {
	began := time.Now()
	recs := make(chan results.Record)
	errc := make(chan error, 1)
	pollCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { errc <- poll(pollCtx, s.c, rec.ID, recs) }()

	line := statusLine{s: s, began: began}
	line.show(rec)
	tick := time.NewTicker(spinStep)
	defer tick.Stop()
	for {
		select {
		case rec = <-recs:
			line.show(rec)
			if rec.Status.Terminal() {
				line.end()
				return rec, nil
			}
		case <-tick.C:
			line.spin()
		case err := <-errc:
			line.end()
			if ctx.Err() != nil {
				return rec, fmt.Errorf("stopped waiting after %s: task %s is still %s", since(began), rec.ID, rec.Status)
			}
			return rec, s.failed("wait for "+rec.ID.String(), err)
		}
	}
}

// poll long-polls task id, a pollStep at a time, and sends each record it
// reads to out, until the task has ended (it returns nil once out took the
// last record) or ctx has, or the API answers an error.
func poll(ctx context.Context, c *client.Client, id uuid.UUID, out chan<- results.Record) error {
	for {
		step, cancel := context.WithTimeout(ctx, pollStep)
		rec, err := c.Wait(step, id)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		if rec.ID != uuid.Nil { // else the step ended before any answer
			select {
			case out <- rec:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if rec.Status.Terminal() {
			return nil
		}
	}
}

// statusLine shows a followed task's status on stderr: redrawn in place
// with \r on a terminal, else a new line at each change of status.
type statusLine struct {
	s      *session
	began  time.Time
	rec    results.Record
	frame  int
	width  int  // of the line drawn last, to blank what a shorter one leaves
	drawn  bool // a line is on the terminal, not yet ended
	status results.Status
}

// show shows rec, if its status is new or the line is live.
func (l *statusLine) show(rec results.Record) {
	l.rec = rec
	if l.s.errTTY {
		l.draw()
		return
	}
	if rec.Status != l.status {
		l.status = rec.Status
		fmt.Fprintln(l.s.stderr, l.text(""))
	}
}

// spin moves the spinner of a live line.
func (l *statusLine) spin() {
	if l.s.errTTY {
		l.frame = (l.frame + 1) % len(spinner)
		l.draw()
	}
}

// end ends a live line, so that what comes next starts on its own line.
func (l *statusLine) end() {
	if l.drawn {
		fmt.Fprintln(l.s.stderr)
		l.drawn = false
	}
}

// draw redraws the live line.
func (l *statusLine) draw() {
	mark := spinner[l.frame]
	if l.rec.Status.Terminal() {
		mark = "✓"
		if l.rec.Status != results.StatusSucceeded {
			mark = "✗"
		}
	}
	text := l.text(mark + " ")
	width := utf8.RuneCountInString(text)
	fmt.Fprint(l.s.stderr, "\r"+text+strings.Repeat(" ", max(l.width-width, 0)))
	l.width, l.drawn = width, true
}

// text is the line: the id, status, attempt and time elapsed.
func (l *statusLine) text(mark string) string {
	r := l.rec
	t := fmt.Sprintf("%stask %s %s", mark, r.ID, r.Status)
	if r.Attempts > 0 {
		t += fmt.Sprintf(" (attempt %d)", r.Attempts) // a retried task may pass its MaxRetries+1
	}
	return t + " " + since(l.began)
}

// since is the time elapsed since t, in seconds to a tenth: "1.5s".
func since(t time.Time) string {
	return fmt.Sprintf("%.1fs", time.Since(t).Seconds())
}
