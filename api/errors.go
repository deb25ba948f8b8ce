package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/tasks"
)

// errorBody is the JSON of every error answer. Code is one of the code*
// constants, for programs; Error is for people.
type errorBody struct {
	Error     string `json:"error"`
	Code      string `json:"code"`
	RequestID string `json:"request_id,omitempty"`
	// TaskID names the task an answer is about: of a 409 duplicate, the
	// task holding the unique key; of a 422 idempotency_mismatch, the task
	// first submitted with the key.
	TaskID string `json:"task_id,omitempty"`
}

// Codes of errorBody, the same in api/client.
const (
	codeInvalid          = "invalid"                // 400: a bad body, id, option or query
	codeUnauthorized     = "unauthorized"           // 401
	codeNotFound         = "not_found"              // 404: no such task
	codeNoRoute          = "no_route"               // 404: no such path
	codeMethodNotAllowed = "method_not_allowed"     // 405
	codeFinished         = "finished"               // 409: cancel of a finished task
	codeNotRetryable     = "not_retryable"          // 409: retry of a task neither failed nor canceled
	codeTooLarge         = "too_large"              // 413
	codeQueueFull        = "queue_full"             // 429: the queue holds its max_length
	codeUnsupportedType  = "unsupported_media_type" // 415
	codeUnknownName      = "unknown_name"           // 422: no worker registered the name
	codeUnavailable      = "unavailable"            // 503: Redis cannot serve the call now
	codeInternal         = "internal"               // 500
	// 409: a unique key held by another task, with on_conflict "reject"
	codeDuplicate = "duplicate"
	// 422: an idempotency key first used for a different request
	codeIdempotencyMismatch = "idempotency_mismatch"
)

// codeNoWorkers is the code of a 422: no live worker handles a broadcast
// task's name in its queue.
const codeNoWorkers = "no_workers"

// apiError is an error answer decided by a handler, with its words.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// invalid is a 400 answer.
func invalid(msg string) error {
	return &apiError{status: http.StatusBadRequest, code: codeInvalid, msg: msg}
}

// domainErrors map the errors of tasks and results to answers.
var domainErrors = []struct {
	err    error
	status int
	code   string
}{
	{tasks.ErrInvalid, http.StatusBadRequest, codeInvalid},
	{tasks.ErrUnknownName, http.StatusUnprocessableEntity, codeUnknownName},
	{tasks.ErrFinished, http.StatusConflict, codeFinished},
	{tasks.ErrNotRetryable, http.StatusConflict, codeNotRetryable},
	{tasks.ErrQueueFull, http.StatusTooManyRequests, codeQueueFull},
	{tasks.ErrNoWorkers, http.StatusUnprocessableEntity, codeNoWorkers},
	{tasks.ErrDuplicate, http.StatusConflict, codeDuplicate},
	{tasks.ErrIdempotencyMismatch, http.StatusUnprocessableEntity, codeIdempotencyMismatch},
}

// echoErrors word echo's own routing errors as runq does; runq's
// middleware (bodyLimit, requireToken) returns apiErrors of its own.
var echoErrors = map[int]errorBody{
	http.StatusNotFound:         {Error: "not found", Code: codeNoRoute},
	http.StatusMethodNotAllowed: {Error: "method not allowed", Code: codeMethodNotAllowed},
}

// handleError renders every error as JSON: the handlers' own with their
// words, domain errors with their status, echo's with runq's words, Redis
// being unavailable as 503 with Retry-After (a full queue's 429 has one
// too), and anything else as a 500 "internal error" with the request ID,
// logged with its detail.
func (s *server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
		return // the client hung up: no one to answer, nothing gone wrong
	}
	status, body := s.describe(err, c.Response().Header().Get(echo.HeaderXRequestID), c.Request().Method, c.Path())
	if retryable(status) {
		c.Response().Header().Set("Retry-After", retryAfter)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, body)
}

// retryAfter is the Retry-After of a 503 and of a 429, in seconds. A full
// queue has room again as soon as a worker takes a task, which a client
// cannot foresee: it retries after a second, or asks to wait (?wait=), which
// learns of the room at once. One second is also what a waiter's periodic
// check of the room takes at most (tasks' roomRecheck).
const retryAfter = "1"

// retryable reports whether an answer of status says to try again later,
// with Retry-After.
func retryable(status int) bool {
	return status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests
}

// describe returns the status and body answering err, for a request known
// by its ID, method and route (a parked long poll has left its handler).
func (s *server) describe(err error, reqID, method, path string) (int, errorBody) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status, errorBody{Error: ae.msg, Code: ae.code}
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		if b, ok := echoErrors[he.Code]; ok {
			return he.Code, b
		}
		code := codeInvalid
		if he.Code >= 500 {
			code = codeInternal
		}
		return he.Code, errorBody{Error: strings.ToLower(http.StatusText(he.Code)), Code: code}
	}
	if errors.Is(err, tasks.ErrNotFound) { // the ID is the request's own
		return http.StatusNotFound, errorBody{Error: "task not found", Code: codeNotFound}
	}
	for _, d := range domainErrors {
		if errors.Is(err, d.err) {
			return d.status, errorBody{Error: public(err), Code: d.code, TaskID: holderOf(err)}
		}
	}
	if why, ok := broker.Unavailable(err); ok {
		s.outages.note(s.cfg.Logger, why, reqID, err)
		return http.StatusServiceUnavailable, errorBody{Error: why + ": " + undone(method, path), Code: codeUnavailable, RequestID: reqID}
	}
	s.cfg.Logger.Error("internal error", "request_id", reqID, "method", method, "path", path, "err", err)
	return http.StatusInternalServerError, errorBody{Error: "internal error", Code: codeInternal, RequestID: reqID}
}

// undone says what a request that met an unavailable Redis did not do.
func undone(method, path string) string {
	switch {
	case method == http.MethodPost && strings.HasSuffix(path, "/batch"):
		return "no task queued"
	case method == http.MethodPost && strings.HasSuffix(path, "/retry"):
		return "task not retried"
	case method == http.MethodPost && strings.HasSuffix(path, "/purge"):
		return "nothing purged"
	case method == http.MethodPost:
		return "task not queued"
	case method == http.MethodDelete:
		return "task not canceled"
	}
	return "try again later"
}

// public renders a domain error for clients: its text without the Go
// package prefixes ("tasks: ") that wrapping leaves in it, where wrapping
// puts them: at the start and after ": ", outside quoted text. What a
// client sent, quoted in the message (a field's name, say), is kept as it
// was.
func public(err error) string {
	msg := err.Error()
	var b strings.Builder
	quoted := false
	for i := 0; i < len(msg); i++ {
		if !quoted && (i == 0 || strings.HasSuffix(msg[:i], ": ")) {
			i += prefixLen(msg[i:])
			if i >= len(msg) {
				break
			}
		}
		switch c := msg[i]; {
		case c == '"':
			quoted = !quoted
		case c == '\\' && quoted && i+1 < len(msg):
			b.WriteByte(c) // an escape: the next byte is not a closing quote
			i++
		}
		b.WriteByte(msg[i])
	}
	return b.String()
}

// prefixLen returns the length of the package prefixes ("tasks: broker: ")
// that s starts with.
func prefixLen(s string) int {
	n := 0
	for {
		switch rest := s[n:]; {
		case strings.HasPrefix(rest, "tasks: "):
			n += len("tasks: ")
		case strings.HasPrefix(rest, "broker: "):
			n += len("broker: ")
		case strings.HasPrefix(rest, "results: "):
			n += len("results: ")
		default:
			return n
		}
	}
}

// outageLog logs the requests answered 503 because Redis is unavailable:
// the first of an outage (or of a new reason) at once, then at most one
// line per outageLogEvery with how many more there were, so that a busy
// API does not write a line per request while Redis is down.
type outageLog struct {
	mu     sync.Mutex
	why    string
	last   time.Time // of the last line
	missed int       // 503s since the last line
}

const outageLogEvery = 10 * time.Second

func (o *outageLog) note(log *slog.Logger, why, reqID string, err error) {
	o.mu.Lock()
	now := time.Now()
	if why == o.why && now.Sub(o.last) < outageLogEvery {
		o.missed++
		o.mu.Unlock()
		return
	}
	missed := o.missed
	o.why, o.last, o.missed = why, now, 0
	o.mu.Unlock()
	log.Warn("Redis unavailable: requests answered 503", "why", why, "request_id", reqID, "err", err, "more_since_last_line", missed)
}
