package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/runq/runq/tasks"
)

// requestFields decodes each field of a submission into r. JSON names are
// matched exactly (encoding/json alone would accept "NAME").
var requestFields = map[string]func(r *tasks.Request, raw json.RawMessage) error{
	"name": func(r *tasks.Request, raw json.RawMessage) error {
		return decodeString(raw, &r.Name, "a string")
	},
	"payload": func(r *tasks.Request, raw json.RawMessage) error {
		r.Payload = raw
		return nil
	},
	"queue": func(r *tasks.Request, raw json.RawMessage) error {
		return decodeString(raw, &r.Queue, "a string")
	},
	"max_retries": func(r *tasks.Request, raw json.RawMessage) error {
		if isNull(raw) {
			return nil
		}
		var n int
		if err := json.Unmarshal(raw, &n); err != nil {
			return fmt.Errorf("want a whole number from 0 to %d", tasks.MaxRetriesLimit)
		}
		r.MaxRetries = &n
		return nil
	},
	"timeout": func(r *tasks.Request, raw json.RawMessage) error {
		return r.Timeout.UnmarshalJSON(raw)
	},
	"result_ttl": func(r *tasks.Request, raw json.RawMessage) error {
		return r.ResultTTL.UnmarshalJSON(raw)
	},
}

const requestFieldNames = "name, payload, queue, max_retries, timeout and result_ttl"

// decodeRequestStrict decodes a submission strictly: one JSON object,
// nothing after it, each key spelt exactly as documented and given once.
// Every error names the field at fault. It is the reference that scanRequest
// must agree with, and it words every refusal.
func decodeRequestStrict(body []byte) (tasks.Request, error) {
	var r tasks.Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // a top-level number too large for float64 is still "not an object"
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return r, badRequest(http.StatusBadRequest, notObject(body, err))
	}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return r, badRequest(http.StatusBadRequest, syntaxError(err))
		}
		key, _ := tok.(string)
		field, ok := requestFields[key]
		switch {
		case !ok:
			return r, badRequest(http.StatusBadRequest, fmt.Sprintf("unknown field %q: the fields are %s", truncate(key, 40), requestFieldNames))
		case seen[key]:
			return r, badRequest(http.StatusBadRequest, fmt.Sprintf("field %q is given twice", key))
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return r, badRequest(http.StatusBadRequest, syntaxError(err))
		}
		if err := field(&r, raw); err != nil {
			return r, badRequest(http.StatusBadRequest, fmt.Sprintf("field %q: %v", key, err))
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return r, badRequest(http.StatusBadRequest, syntaxError(err))
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return r, badRequest(http.StatusBadRequest, "invalid JSON: unexpected data after the object")
	}
	if !seen["name"] || r.Name == "" {
		return r, badRequest(http.StatusBadRequest, `field "name" is required: the task name a worker registered`)
	}
	return r, nil
}

// decodeBatchStrict decodes {"tasks": [request, ...]} strictly, each
// request as decodeRequestStrict does; errors name the task by index.
func decodeBatchStrict(body []byte) ([]tasks.Request, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, badRequest(http.StatusBadRequest, `the body must be a JSON object {"tasks": [...]}`)
	}
	var raw json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, badRequest(http.StatusBadRequest, syntaxError(err))
		}
		switch key, _ := tok.(string); {
		case key != "tasks":
			return nil, badRequest(http.StatusBadRequest, `the body must be {"tasks": [...]} and nothing else`)
		case raw != nil:
			return nil, badRequest(http.StatusBadRequest, `field "tasks" is given twice`)
		}
		if err := dec.Decode(&raw); err != nil {
			return nil, badRequest(http.StatusBadRequest, syntaxError(err))
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, badRequest(http.StatusBadRequest, syntaxError(err))
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return nil, badRequest(http.StatusBadRequest, "invalid JSON: unexpected data after the object")
	}
	if raw == nil {
		return nil, badRequest(http.StatusBadRequest, `field "tasks" is required: {"tasks": [...]}`)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, badRequest(http.StatusBadRequest, `field "tasks": want an array of tasks`)
	}
	if len(items) == 0 || len(items) > tasks.MaxBatch {
		return nil, badRequest(http.StatusBadRequest, fmt.Sprintf(`field "tasks": want 1 to %d tasks, got %d`, tasks.MaxBatch, len(items)))
	}
	out := make([]tasks.Request, len(items))
	for i, item := range items {
		r, err := decodeRequestStrict(item)
		if err != nil {
			var he *echo.HTTPError
			if errors.As(err, &he) {
				return nil, badRequest(he.Code, fmt.Sprintf("tasks[%d]: %v", i, he.Message))
			}
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// decodeString reads a JSON string (null leaves dst empty).
func decodeString(raw json.RawMessage, dst *string, want string) error {
	if isNull(raw) {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("want %s", want)
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// notObject explains a body that does not open a JSON object.
func notObject(body []byte, err error) string {
	if err != nil {
		return syntaxError(err)
	}
	switch bytes.TrimSpace(body)[0] {
	case '[':
		return "the body must be a JSON object, not an array"
	case '"':
		return "the body must be a JSON object, not a string"
	}
	return "the body must be a JSON object"
}

// syntaxError explains a JSON syntax error without Go type names.
func syntaxError(err error) string {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d: %s", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "invalid JSON: the body ends too early"
	}
	return "invalid JSON"
}
