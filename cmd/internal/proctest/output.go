package proctest

import (
	"bytes"
	"regexp"
	"sync"
	"testing"
	"time"
)

// The lines a runq binary writes once its API listens (stdout; the
// submatch is the base URL) and once it has started an embedded Redis
// (stderr; the submatch is that Redis's URL).
var (
	ListenLine  = regexp.MustCompile(`(?m)^runq API on (http://\S+)$`)
	EmbeddedURL = regexp.MustCompile(`embedded Redis.* redis=(redis://127\.0\.0\.1:\d+)`)
)

// Output collects a stream of a process, or anything else that writes;
// waiters learn of each write through Match. It is safe for concurrent use.
type Output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced at each write
}

// NewOutput returns an empty Output.
func NewOutput() *Output { return &Output{changed: make(chan struct{})} }

// Write appends b and wakes every waiter.
func (o *Output) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	close(o.changed)
	o.changed = make(chan struct{})
	return o.buf.Write(b)
}

// String returns everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Match returns re's submatches in the output so far (nil if none), and a
// channel closed at the next write, read together so that no write falls
// between them.
func (o *Output) Match(re *regexp.Regexp) ([]string, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return re.FindStringSubmatch(o.buf.String()), o.changed
}

// WaitFor waits up to timeout for re to match the output and returns the
// submatches. ended is closed once the writer is done (a process exited, a
// function returned): the test then fails unless the whole output matches,
// and why says what ended, as in "process exited (exit status 1)". The
// test also fails at the timeout. Both failures show the output.
func (o *Output) WaitFor(t *testing.T, re *regexp.Regexp, timeout time.Duration, ended <-chan struct{}, why func() string) []string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		m, changed := o.Match(re)
		if m != nil {
			return m
		}
		select {
		case <-changed:
		case <-ended:
			if m, _ := o.Match(re); m != nil {
				return m
			}
			t.Fatalf("%s before its output matched %q; output:\n%s", why(), re, o)
		case <-deadline.C:
			t.Fatalf("output did not match %q within %s; output:\n%s", re, timeout, o)
		}
	}
}
