package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/runq/runq/tasks"
)

// queueSettingsAnswer is the answer of PUT /v1/queues/{queue} and of pause
// and resume: the queue's settings as they then are.
type queueSettingsAnswer struct {
	Queue string `json:"queue"`
	tasks.QueueSettings
}

// updateQueue handles PUT /v1/queues/{queue}: {"paused", "max_length",
// "max_running"}, each optional; a field left out keeps its value, and a
// max_length or max_running of 0 (or null) unsets it.
func (s *server) updateQueue(c echo.Context) error {
	body, err := readJSON(c)
	if err != nil {
		return err
	}
	u, err := decodeQueueUpdate(body)
	if err != nil {
		return err
	}
	return s.applyQueueUpdate(c, u)
}

// pauseQueue handles POST /v1/queues/{queue}/pause, and resumeQueue
// /resume: the same as PUT with {"paused": true} or false.
func (s *server) pauseQueue(c echo.Context) error  { return s.setPaused(c, true) }
func (s *server) resumeQueue(c echo.Context) error { return s.setPaused(c, false) }

func (s *server) setPaused(c echo.Context, paused bool) error {
	if err := onlyParams(c, "pretty"); err != nil {
		return err
	}
	return s.applyQueueUpdate(c, tasks.QueueUpdate{Paused: &paused})
}

func (s *server) applyQueueUpdate(c echo.Context, u tasks.QueueUpdate) error {
	queue := c.Param("queue")
	settings, err := s.tasks.UpdateQueue(c.Request().Context(), queue, u)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, queueSettingsAnswer{Queue: queue, QueueSettings: settings})
}

// decodeQueueUpdate decodes the body of PUT /v1/queues/{queue} strictly:
// an unknown field or a value of the wrong type is refused, naming the
// field.
func decodeQueueUpdate(body []byte) (tasks.QueueUpdate, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return tasks.QueueUpdate{}, invalid(`the body must be a JSON object such as {"max_length": 10}`)
	}
	if len(fields) == 0 {
		return tasks.QueueUpdate{}, invalid(`nothing to change: give "paused", "max_length" or "max_running"`)
	}
	var u tasks.QueueUpdate
	for name, raw := range fields {
		var err error
		switch name {
		case "paused":
			u.Paused, err = decodeField[bool](raw, "true or false")
		case "max_length":
			u.MaxLength, err = decodeCount(raw)
		case "max_running":
			u.MaxRunning, err = decodeCount(raw)
		default:
			return tasks.QueueUpdate{}, invalid(fmt.Sprintf(`unknown field %q: want "paused", "max_length" or "max_running"`, truncate(name, 40)))
		}
		if err != nil {
			return tasks.QueueUpdate{}, invalid(fmt.Sprintf("field %q: %v", name, err))
		}
	}
	return u, nil
}

// decodeField decodes raw as a T; null is refused (want names what is
// expected).
func decodeField[T any](raw json.RawMessage, want string) (*T, error) {
	var v T
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) || json.Unmarshal(raw, &v) != nil {
		return nil, errors.New("want " + want)
	}
	return &v, nil
}

// decodeCount decodes a max_length or max_running: a whole number, or
// null, which unsets it as 0 does.
func decodeCount(raw json.RawMessage) (*int, error) {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		zero := 0
		return &zero, nil
	}
	return decodeField[int](raw, "a whole number, 0 or null to unset")
}
