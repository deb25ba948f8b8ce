package outages

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/api/client"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// NewClient returns a client of the API at base whose every request ends
// within timeout (no request can hang a test) and that keeps up to conns
// connections to it alive.
func NewClient(base string, timeout time.Duration, conns int) *client.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns
	tr.MaxIdleConnsPerHost = conns
	c, err := client.New(base, client.Config{HTTPClient: &http.Client{Timeout: timeout, Transport: tr}})
	if err != nil {
		panic(err) // base comes from the process's own line: a bug here
	}
	return c
}

// Kind classifies one answer.
type Kind string

// The kinds of answer the tests count.
const (
	Accepted    Kind = "202"       // the task was queued
	Unavailable Kind = "503-json"  // 503 with runq's error body, leaking nothing
	Other       Kind = "other"     // anything else: an error, a 500, a leaky 503
	OK          Kind = "200"       // a GET answered
	NotFound    Kind = "404"       // a GET of an unknown id
	Transport   Kind = "transport" // no HTTP answer at all (refused, reset, timed out)
)

// Answer is the outcome of one call.
type Answer struct {
	Kind    Kind
	Status  int
	Record  results.Record // for 202 and 200
	Detail  string         // why it is Other: the status and message, or the error
	Latency time.Duration
	At      time.Time // when the answer was read
}

// leaks are fragments of internal detail that a client must never see.
var leaks = []string{"dial", "tcp", "127.0.0.1", "refused", "EOF", "redis:", "broken pipe", "reset by peer", "i/o timeout", "goroutine", ".go:"}

// Submit submits the task of body (JSON, as POST /v1/tasks takes it) and
// classifies the answer: Accepted with the record, Unavailable for a clean
// 503, else Other or Transport.
func Submit(c *client.Client, body []byte) Answer {
	start := time.Now()
	var r tasks.Request
	if err := r.UnmarshalJSON(body); err != nil {
		return Answer{Kind: Other, Detail: "bad test body: " + err.Error(), At: time.Now()}
	}
	rec, err := c.Submit(context.Background(), r)
	return classify(rec, err, start, Accepted)
}

// Get reads the record of task id, waiting up to wait (0: not at all) for
// it to finish, and classifies the answer: OK with the record, NotFound,
// Unavailable, else Other or Transport.
func Get(c *client.Client, id string, wait time.Duration) Answer {
	return GetContext(context.Background(), c, id, wait)
}

// GetContext is Get within ctx.
func GetContext(ctx context.Context, c *client.Client, id string, wait time.Duration) Answer {
	start := time.Now()
	uid, err := uuid.Parse(id)
	if err != nil {
		return Answer{Kind: Other, Detail: err.Error(), At: time.Now()}
	}
	if wait == 0 {
		rec, err := c.Get(ctx, uid)
		return classify(rec, err, start, OK)
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	rec, err := c.Wait(wctx, uid)
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil && rec.ID == uid {
		err = nil // the wait ran out: the record as it is
	}
	return classify(rec, err, start, OK)
}

// classify turns a call's result into an Answer of kind ok when it
// succeeded.
func classify(rec results.Record, err error, start time.Time, ok Kind) Answer {
	a := Answer{Latency: time.Since(start), At: time.Now()}
	var ae *client.Error
	switch {
	case err == nil:
		a.Kind, a.Record, a.Status = ok, rec, map[Kind]int{Accepted: 202, OK: 200}[ok]
	case errors.As(err, &ae):
		a.Kind, a.Status, a.Detail = Other, ae.Status, fmt.Sprintf("status %d: %s", ae.Status, ae.Message)
		switch {
		case ae.Status == http.StatusServiceUnavailable && errors.Is(err, tasks.ErrUnavailable) && clean(ae.Message):
			a.Kind, a.Detail = Unavailable, ""
		case ae.Status == http.StatusNotFound && errors.Is(err, tasks.ErrNotFound):
			a.Kind, a.Detail = NotFound, ""
		}
	default:
		a.Kind, a.Detail = Transport, err.Error()
	}
	return a
}

// clean reports whether an error message names no internals.
func clean(msg string) bool {
	for _, l := range leaks {
		if strings.Contains(strings.ToLower(msg), strings.ToLower(l)) {
			return false
		}
	}
	return msg != ""
}
