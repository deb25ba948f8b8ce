// Package client is the Go client of runq's HTTP API: it submits tasks,
// reads and waits for their records, cancels and retries them, and lists
// tasks, queues, workers and handlers, with the verbs, types and errors of
// tasks.Client, for services that reach runq over HTTP
// rather than through Redis. Typed submissions work through it too:
// tasks.Submit(ctx, c, name, in) and tasks.Result[Out](rec).
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// Config configures a Client. Zero values are the documented defaults.
type Config struct {
	// Token is sent as "Authorization: Bearer <token>", for a server
	// started with --api-token; "" sends none.
	Token string
	// HTTPClient makes the requests; nil means http.DefaultClient. Every
	// request is bounded by its context, and by MaxWait plus a margin.
	HTTPClient *http.Client
	// MaxWait is the longest single long poll of Wait, which polls again
	// until the task finishes; 0 means 60s, the server's own cap. It is
	// kept under HTTPClient.Timeout, if that is set, so that a long poll
	// ends before the client gives up on it.
	MaxWait time.Duration
}

// Client calls one runq API. It is safe for concurrent use.
type Client struct {
	base  string // scheme://host[:port][/path], without a trailing slash
	token string
	http  *http.Client
	wait  time.Duration
}

// New returns a Client of the API at baseURL, such as
// "http://127.0.0.1:8080". A URL that is not http or https is an error.
func New(baseURL string, cfg Config) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http://host:port or https://host:port", baseURL)
	}
	c := &Client{base: strings.TrimRight(u.String(), "/"), token: cfg.Token, http: cfg.HTTPClient, wait: cfg.MaxWait}
	if c.http == nil {
		c.http = http.DefaultClient
	}
	if c.wait <= 0 {
		c.wait = 60 * time.Second
	}
	if t := c.http.Timeout; t > 0 && c.wait > t-pollMargin(t) {
		c.wait = t - pollMargin(t)
	}
	return c, nil
}

// pollMargin is how long before a deadline of d from now a long poll
// ends, so that its answer arrives in time: a tenth of d, at most 250ms.
func pollMargin(d time.Duration) time.Duration { return min(d/10, 250*time.Millisecond) }

// Submit queues a task and returns its record, status queued (scheduled,
// with its RunAt, when r's Delay or RunAt holds it back). Its errors
// match the sentinels of package tasks: ErrInvalid (found by
// Request.Validate before anything is sent, or by the server),
// ErrUnknownName, ErrNoWorkers (a broadcast task that no live worker
// handles in its queue), ErrQueueFull (the queue holds its max_length of queued
// tasks: at once, unless ctx comes from tasks.WaitForRoom), ErrUnavailable
// (also when the server cannot be reached, or a proxy answers 502, 503 or
// 504). With r.IdempotencyKey or r.Unique, a task that already existed is
// returned with Replayed set, or ErrIdempotencyMismatch, or ErrDuplicate
// (a *tasks.DuplicateError naming the holder), as tasks.Client's Submit.
func (c *Client) Submit(ctx context.Context, r tasks.Request) (results.Record, error) {
	if err := r.Validate(); err != nil {
		return results.Record{}, fmt.Errorf("client: submit: %w", err)
	}
	var rec results.Record
	err := c.post(ctx, "/v1/tasks", r, &rec)
	return rec, err
}

// SubmitBatch queues up to tasks.MaxBatch tasks in one request, all or
// none, and returns their records in order. Every request is validated
// before anything is sent; the error names the first bad one by index.
// A queue that lacks room for the batch's tasks in it refuses the whole
// batch, as Submit's does.
func (c *Client) SubmitBatch(ctx context.Context, rs []tasks.Request) ([]results.Record, error) {
	if len(rs) == 0 || len(rs) > tasks.MaxBatch {
		return nil, fmt.Errorf("client: submit: %w: a batch holds 1 to %d tasks, not %d", tasks.ErrInvalid, tasks.MaxBatch, len(rs))
	}
	for i := range rs {
		if err := rs[i].Validate(); err != nil {
			return nil, fmt.Errorf("client: submit: tasks[%d]: %w", i, err)
		}
	}
	var out struct {
		Tasks []results.Record `json:"tasks"`
	}
	body := struct {
		Tasks []tasks.Request `json:"tasks"`
	}{rs}
	if err := c.post(ctx, "/v1/tasks/batch", body, &out); err != nil {
		return nil, err
	}
	if len(out.Tasks) != len(rs) {
		return nil, fmt.Errorf("client: submitted %d tasks, the answer holds %d records", len(rs), len(out.Tasks))
	}
	return out.Tasks, nil
}

// Get returns the record of task id; tasks.ErrNotFound when there is none.
func (c *Client) Get(ctx context.Context, id uuid.UUID) (results.Record, error) {
	var rec results.Record
	err := c.do(ctx, http.MethodGet, "/v1/tasks/"+id.String(), nil, http.StatusOK, &rec)
	return rec, err
}

// Wait returns the record of task id once it has finished, long-polling
// the API (GET ?wait=) as many times as it takes. When ctx ends first, it
// returns the record last read with ctx's error; a poll ends a little
// before ctx's deadline, so that its record arrives in time. An error
// answer ends the wait (ErrUnavailable while Redis is down: wait again
// later).
func (c *Client) Wait(ctx context.Context, id uuid.UUID) (results.Record, error) {
	var rec results.Record
	pause := time.Duration(0) // after a poll that came back early
	for {
		wait := c.wait
		if dl, ok := ctx.Deadline(); ok {
			left := time.Until(dl)
			wait = max(min(wait, left-pollMargin(left)).Truncate(time.Millisecond), 0)
		}
		var got results.Record
		path := "/v1/tasks/" + id.String() + "?wait=" + wait.String()
		began := time.Now()
		if err := c.do(ctx, http.MethodGet, path, nil, http.StatusOK, &got); err != nil {
			if ctx.Err() != nil {
				return rec, fmt.Errorf("client: wait for %s: %w", id, ctx.Err())
			}
			return rec, err
		}
		rec = got
		if rec.Status.Terminal() {
			return rec, nil
		}
		// A poll that ends well before its wait, and within a second,
		// without a finished task (a server shutting down answers at
		// once, or a proxy cuts long requests) is followed by a pause,
		// doubled each time, so that Wait does not spin on the server. A
		// server whose own cap on waits is shorter than MaxWait still
		// holds each poll for a second or more: no pause after those.
		if took := time.Since(began); took < wait/2 && took < time.Second {
			pause = min(max(2*pause, 50*time.Millisecond), time.Second)
			select {
			case <-ctx.Done():
			case <-time.After(pause):
			}
		} else {
			pause = 0
		}
		if ctx.Err() != nil {
			return rec, fmt.Errorf("client: wait for %s: %w", id, ctx.Err())
		}
	}
}

// post sends a submission. Under tasks.WaitForRoom it asks the server to
// wait for room in a full queue (?wait=, up to MaxWait, ending a little
// before ctx's deadline), and asks again each time the server's wait runs
// out, until ctx ends or its deadline is near; the last refusal then
// matches both tasks.ErrQueueFull and ctx's error (DeadlineExceeded when
// the deadline was near).
func (c *Client) post(ctx context.Context, path string, body, out any) error {
	if !tasks.WaitsForRoom(ctx) {
		return c.do(ctx, http.MethodPost, path, body, http.StatusAccepted, out)
	}
	var refused error
	for {
		wait := c.wait
		if dl, ok := ctx.Deadline(); ok {
			left := time.Until(dl)
			wait = max(min(wait, left-max(pollMargin(left), roomMargin)).Truncate(time.Millisecond), 0)
		}
		if refused != nil && wait < minRoomWait {
			return fmt.Errorf("%w (no room within the wait: %w)", refused, context.DeadlineExceeded)
		}
		err := c.do(ctx, http.MethodPost, path+"?wait="+wait.String(), body, http.StatusAccepted, out)
		switch {
		case !errors.Is(err, tasks.ErrQueueFull):
			return err
		case ctx.Err() != nil:
			return fmt.Errorf("%w (no room within the wait: %w)", err, ctx.Err())
		}
		refused = err
	}
}

// A wait for room ends at least roomMargin before ctx's deadline, so that
// the server's 429 arrives in time to be told from a request cut short
// (which may have queued the task); minRoomWait is the shortest wait worth
// another request.
const (
	roomMargin  = 50 * time.Millisecond
	minRoomWait = 10 * time.Millisecond
)

// Cancel cancels task id if it has not started and returns its record,
// status canceled (also when it was canceled before). A running task's
// cancel is asked of the worker that runs it: the record returned is
// still running, with CancelRequestedAt set, and the task ends canceled
// once the worker has stopped its handler (Wait for it). tasks.ErrFinished
// when the task has finished otherwise.
func (c *Client) Cancel(ctx context.Context, id uuid.UUID) (results.Record, error) {
	var rec results.Record
	err := c.do(ctx, http.MethodDelete, "/v1/tasks/"+id.String(), nil, statusOKOrAccepted, &rec)
	return rec, err
}

// do sends one request with body (nil: none) encoded as JSON and decodes
// an answer of status want into out; any other answer is an *Error.
func (c *Client) do(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("client: encode the request: %w", err)
		}
		rd = bytes.NewReader(raw)
	}
	rctx, cancel := context.WithTimeout(ctx, c.wait+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() == nil { // not the caller's context: the server's fault
			return &noAnswerError{fmt.Errorf("client: %s %s: %w", method, path, err)}
		}
		return fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		err = fmt.Errorf("client: %s %s: read the answer: %w", method, path, err)
		if ctx.Err() == nil {
			return &noAnswerError{err}
		}
		return err
	}
	if resp.StatusCode != want && !replayed(want, resp) &&
		!(want == statusOKOrAccepted && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted)) {
		return answerError(resp, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		// The request was served (a submission was queued) but its
		// answer cannot be read: as good as lost.
		return &noAnswerError{fmt.Errorf("client: %s %s: decode the answer: %w", method, path, err)}
	}
	return nil
}

// maxAnswer bounds the answer read: the largest is a record with a 1 MiB
// payload and a 1 MiB result, or a batch's records of a 16 MiB body.
const maxAnswer = 64 << 20

// Error is an error answer of the API. errors.Is matches it to the
// sentinels of package tasks by its Code.
type Error struct {
	Status     int           // the HTTP status
	Code       string        // "invalid", "not_found", "unavailable"... ("" if the body was not runq's)
	Message    string        // the server's words
	RequestID  string        // of a 500 or 503, to find the server's log line
	RetryAfter time.Duration // of a 503 or a 429: when to try again
	// TaskID is the task the answer names: of a 409 "duplicate", the task
	// holding the unique key (errors.As to a *tasks.DuplicateError gives
	// it too); of a 422 "idempotency_mismatch", the task first submitted
	// with the key.
	TaskID uuid.UUID
}

func (e *Error) Error() string {
	return fmt.Sprintf("runq API: %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Is reports whether e means target, one of the sentinels of package
// tasks: by its Code, or, for an answer not from runq or with a code this
// client does not know, by its Status: 502, 503 and 504 (from a proxy in
// front of runq, say) mean ErrUnavailable, and 413 ErrInvalid.
func (e *Error) Is(target error) bool {
	if target == nil {
		return false
	}
	if sentinel, ok := codes[e.Code]; ok {
		return sentinel == target
	}
	switch e.Status { // no code, or one this client does not know
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return target == tasks.ErrUnavailable
	case http.StatusRequestEntityTooLarge:
		return target == tasks.ErrInvalid
	}
	return false
}

// codes map an answer's code to the sentinel of package tasks it means.
var codes = map[string]error{
	"invalid":       tasks.ErrInvalid,
	"too_large":     tasks.ErrInvalid,
	"unknown_name":  tasks.ErrUnknownName,
	"not_found":     tasks.ErrNotFound,
	"finished":      tasks.ErrFinished,
	"not_retryable": tasks.ErrNotRetryable,
	"queue_full":    tasks.ErrQueueFull,
	"unavailable":   tasks.ErrUnavailable,
	"no_workers":    tasks.ErrNoWorkers,

	"duplicate":            tasks.ErrDuplicate,
	"idempotency_mismatch": tasks.ErrIdempotencyMismatch,
}

// noAnswerError is a request that got no usable answer (connection
// refused or reset, a timeout of HTTPClient's own, a body cut short or not
// runq's JSON): tasks.ErrUnavailable matches it, for the caller may try
// again later. As with Redis, a submission whose answer was lost may have
// been queued.
type noAnswerError struct{ err error }

func (e *noAnswerError) Error() string   { return e.err.Error() }
func (e *noAnswerError) Unwrap() []error { return []error{tasks.ErrUnavailable, e.err} }

// answerError builds the *Error of an answer: runq's JSON error body, or
// the start of whatever else came (a proxy's page, say).
func answerError(resp *http.Response, raw []byte) error {
	e := &Error{Status: resp.StatusCode}
	var body struct {
		Error     string `json:"error"`
		Code      string `json:"code"`
		RequestID string `json:"request_id"`
		TaskID    string `json:"task_id"`
	}
	if json.Unmarshal(raw, &body) == nil && body.Error != "" {
		e.Message, e.Code, e.RequestID = body.Error, body.Code, body.RequestID
		e.TaskID, _ = uuid.Parse(body.TaskID)
	} else {
		e.Message = strings.TrimSpace(string(raw[:min(len(raw), 200)]))
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

// statusOKOrAccepted, as do's want, accepts 200 or 202 (a cancel asked of
// a running task's worker).
const statusOKOrAccepted = -1
