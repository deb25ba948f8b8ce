package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/runq/runq/tasks"
)

// decodeBatchStrict decodes {"tasks": [request, ...]} strictly, each
// request as tasks.Request.UnmarshalJSON does (each refusal wrapping
// tasks.ErrInvalid and naming the field at fault); errors name the task by
// index. It is the reference that wirejson.ScanBatch must agree with.
func decodeBatchStrict(body []byte) ([]tasks.Request, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, invalid(`the body must be a JSON object {"tasks": [...]}`)
	}
	var raw json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalid(syntaxError(err))
		}
		switch key, _ := tok.(string); {
		case key != "tasks":
			return nil, invalid(`the body must be {"tasks": [...]} and nothing else`)
		case raw != nil:
			return nil, invalid(`field "tasks" is given twice`)
		}
		if err := dec.Decode(&raw); err != nil {
			return nil, invalid(syntaxError(err))
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, invalid(syntaxError(err))
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return nil, invalid("invalid JSON: unexpected data after the object")
	}
	if raw == nil {
		return nil, invalid(`field "tasks" is required: {"tasks": [...]}`)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, invalid(`field "tasks": want an array of tasks`)
	}
	if len(items) == 0 || len(items) > tasks.MaxBatch {
		return nil, invalid(fmt.Sprintf(`field "tasks": want 1 to %d tasks, got %d`, tasks.MaxBatch, len(items)))
	}
	out := make([]tasks.Request, len(items))
	for i, item := range items {
		if err := out[i].UnmarshalJSON(item); err != nil {
			return nil, fmt.Errorf("tasks[%d]: %w", i, err)
		}
	}
	return out, nil
}

// syntaxError explains a JSON syntax error in a batch's wrapper (errors
// inside a task are worded by tasks.Request.UnmarshalJSON).
func syntaxError(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	}
	return "invalid JSON: the body ends too early or is malformed"
}
