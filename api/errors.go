package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// errorBody is the JSON of every error response.
type errorBody struct {
	Error     string `json:"error"`
	RequestID string `json:"request_id,omitempty"`
}

// badRequest is a client error whose message is safe to show.
func badRequest(status int, msg string) error { return echo.NewHTTPError(status, msg) }

// httpStatus maps a domain error to its status; 0 means an internal error.
func httpStatus(err error) int {
	switch {
	case errors.Is(err, results.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, tasks.ErrInvalid), errors.Is(err, broker.ErrBadQueue):
		return http.StatusBadRequest
	case errors.Is(err, tasks.ErrUnknownName):
		return http.StatusUnprocessableEntity
	case errors.Is(err, tasks.ErrRunning), errors.Is(err, tasks.ErrFinished):
		return http.StatusConflict
	case broker.IsUnavailable(err):
		return http.StatusServiceUnavailable
	}
	return 0
}

// handleError renders every error as JSON: echo's own HTTP errors with their
// message, domain errors with their status and message, and anything else as
// a 500 "internal error" with the request ID, logged with its detail.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body := s.describe(err, c)
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, body)
}

func (s *Server) describe(err error, c echo.Context) (int, errorBody) {
	return s.describeFor(err, c.Response().Header().Get(echo.HeaderXRequestID), c.Request().Method, c.Path())
}

// describeFor is describe for a request known by its ID, method and route,
// as a parked long poll is once its handler has returned.
func (s *Server) describeFor(err error, reqID, method, path string) (int, errorBody) {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg, ok := he.Message.(string)
		if !ok || he.Code >= 500 {
			msg = http.StatusText(he.Code)
		}
		return he.Code, errorBody{Error: lower(msg)}
	}
	switch status := httpStatus(err); status {
	case 0:
	case http.StatusServiceUnavailable:
		s.cfg.Logger.Warn("storage unavailable", "request_id", reqID, "err", err)
		return status, errorBody{Error: "storage unavailable, retry later", RequestID: reqID}
	default:
		return status, errorBody{Error: public(err)}
	}
	s.cfg.Logger.Error("internal error", "request_id", reqID, "method", method, "path", path, "err", err)
	return http.StatusInternalServerError, errorBody{Error: "internal error", RequestID: reqID}
}

// public renders a domain error for clients: its text without the Go
// package prefixes ("tasks: ") that wrapping leaves in it.
func public(err error) string {
	return strings.NewReplacer("tasks: ", "", "broker: ", "", "results: ", "").Replace(err.Error())
}

// lower lower-cases the first letter of msg, as Go error strings are.
func lower(msg string) string {
	if msg != "" && msg[0] >= 'A' && msg[0] <= 'Z' {
		return string(msg[0]+'a'-'A') + msg[1:]
	}
	return msg
}
