package tasks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// UnmarshalJSON reads a request strictly, as the HTTP API takes it: one
// JSON object, nothing after it, each key spelt exactly as documented
// ("NAME" is refused, which encoding/json alone would take for "name") and
// given once, so that a misspelt option is never silently ignored. null
// leaves a field unset; "max_retries": 0 is NoRetries. Every error wraps
// ErrInvalid and names the field at fault.
func (r *Request) UnmarshalJSON(b []byte) error {
	var out Request
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // a top-level number too large for float64 is still "not an object"
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("%w: %s", ErrInvalid, notObject(b, err))
	}
	var seen [len(requestFields)]bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %s", ErrInvalid, syntaxError(err))
		}
		key, _ := tok.(string)
		i := fieldIndex(key)
		switch {
		case i < 0:
			return fmt.Errorf("%w: unknown field %q: the fields are %s", ErrInvalid, truncate(key, 40), requestFieldNames)
		case seen[i]:
			return fmt.Errorf("%w: field %q is given twice", ErrInvalid, key)
		}
		seen[i] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("%w: %s", ErrInvalid, syntaxError(err))
		}
		if err := requestFields[i].set(&out, raw); err != nil {
			return fmt.Errorf("%w: field %q: %v", ErrInvalid, key, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return fmt.Errorf("%w: %s", ErrInvalid, syntaxError(err))
	}
	if len(bytes.TrimSpace(b[dec.InputOffset():])) > 0 {
		return fmt.Errorf("%w: invalid JSON: unexpected data after the object", ErrInvalid)
	}
	if out.Name == "" {
		return fmt.Errorf(`%w: field "name" is required: the task name a worker registered`, ErrInvalid)
	}
	*r = out
	return nil
}

// requestFields decodes each field of a request, by its exact JSON name.
var requestFields = [...]struct {
	name string
	set  func(r *Request, raw json.RawMessage) error
}{
	{"name", func(r *Request, raw json.RawMessage) error { return decodeString(raw, &r.Name) }},
	{"payload", func(r *Request, raw json.RawMessage) error { r.Payload = raw; return nil }},
	{"queue", func(r *Request, raw json.RawMessage) error { return decodeString(raw, &r.Queue) }},
	{"max_retries", func(r *Request, raw json.RawMessage) error {
		if isNull(raw) {
			return nil
		}
		n, err := strconv.Atoi(string(raw))
		if err != nil || n < 0 || n > MaxRetriesLimit {
			return fmt.Errorf("want a whole number from 0 to %d", MaxRetriesLimit)
		}
		if n == 0 {
			n = NoRetries
		}
		r.MaxRetries = n
		return nil
	}},
	{"timeout", func(r *Request, raw json.RawMessage) error { return decodeDuration(raw, &r.Timeout) }},
	{"result_ttl", func(r *Request, raw json.RawMessage) error { return decodeDuration(raw, &r.ResultTTL) }},
	{"delay", func(r *Request, raw json.RawMessage) error { return decodeDuration(raw, &r.Delay) }},
	{"run_at", func(r *Request, raw json.RawMessage) error { return decodeTime(raw, &r.RunAt) }},
	{"broadcast", func(r *Request, raw json.RawMessage) error { return decodeBool(raw, &r.Broadcast) }},
	{"idempotency_key", func(r *Request, raw json.RawMessage) error { return decodeString(raw, &r.IdempotencyKey) }},
	{"unique", func(r *Request, raw json.RawMessage) error {
		if isNull(raw) {
			return nil
		}
		var u Unique
		if err := u.UnmarshalJSON(raw); err != nil {
			return err
		}
		r.Unique = &u
		return nil
	}},
	{"on_conflict", func(r *Request, raw json.RawMessage) error { return decodeString(raw, &r.OnConflict) }},
	{"callback_url", func(r *Request, raw json.RawMessage) error { return decodeString(raw, &r.CallbackURL) }},
}

const requestFieldNames = "name, payload, queue, max_retries, timeout, result_ttl, delay, run_at, broadcast, idempotency_key, unique, on_conflict and callback_url"

// fieldIndex returns the index of key in requestFields, or -1.
func fieldIndex(key string) int {
	for i, f := range requestFields {
		if f.name == key {
			return i
		}
	}
	return -1
}

// decodeString reads a JSON string; null leaves dst as it is.
func decodeString(raw json.RawMessage, dst *string) error {
	if isNull(raw) {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return errors.New("want a string")
	}
	return nil
}

// decodeDuration reads a duration string such as "30s"; null leaves dst
// as it is. Negative durations are refused.
func decodeDuration(raw json.RawMessage, dst *time.Duration) error {
	if isNull(raw) {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return errors.New(`want a duration string such as "30s"`)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: use a number with a unit, such as \"30s\" or \"1m30s\"", truncate(s, 40))
	}
	if d < 0 {
		return fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	*dst = d
	return nil
}

// decodeTime reads an RFC 3339 time such as "2030-01-02T15:04:05Z"; null
// leaves dst as it is.
func decodeTime(raw json.RawMessage, dst *time.Time) error {
	if isNull(raw) {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return errors.New(`want an RFC 3339 time string such as "2030-01-02T15:04:05Z"`)
	}
	t, err := time.Parse(time.RFC3339, s) // fractional seconds are taken too
	if err != nil {
		return fmt.Errorf(`invalid time %q: use RFC 3339, such as "2030-01-02T15:04:05Z" or "2030-01-02T17:04:05+02:00"`, truncate(s, 40))
	}
	*dst = t
	return nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// notObject explains a body that does not open a JSON object.
func notObject(b []byte, err error) string {
	if err != nil {
		return syntaxError(err)
	}
	switch bytes.TrimSpace(b)[0] {
	case '[':
		return "a task must be a JSON object, not an array"
	case '"':
		return "a task must be a JSON object, not a string"
	}
	return "a task must be a JSON object"
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// decodeBool reads true or false; null leaves dst as it is.
func decodeBool(raw json.RawMessage, dst *bool) error {
	if isNull(raw) {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return errors.New("want true or false")
	}
	return nil
}
