package wirejson

import (
	"time"
	"unicode/utf8"

	"github.com/runq/runq/tasks"
)

// scanner reads the bodies of POST /v1/tasks and /v1/tasks/batch in one pass
// over the bytes, allocating only the strings it returns: about 30 times
// less CPU per task than encoding/json's token decoder (BenchmarkDecode*).
//
// It takes only the common shape of a body: keys and string fields without
// escapes (times and durations included), max_retries as a plain integer, payloads nested at most
// maxScanDepth deep, each known key once. Anything else, valid or not, makes
// it give up (ok false) and the strict decoder decides. So the scanner never
// refuses a body: it only accepts bodies the strict decoder accepts, with the
// same values, which FuzzScanRequest and FuzzScanBatch check.
type scanner struct {
	b []byte
	i int // next byte to read

	// name and queue are the last values read: a batch repeats them, and
	// sharing the string saves an allocation per task.
	name, queue string
}

// maxScanDepth bounds payload nesting for the scanner's recursion; deeper
// payloads go to the strict decoder (encoding/json allows 10,000 levels).
const maxScanDepth = 128

// Bits of the fields of a request, to find one given twice.
const (
	fieldName = 1 << iota
	fieldPayload
	fieldQueue
	fieldMaxRetries
	fieldTimeout
	fieldResultTTL
	fieldDelay
	fieldRunAt
	fieldBroadcast
	fieldIdempotencyKey
	fieldUnique
	fieldOnConflict
	fieldCallbackURL
)

// ScanRequest reads a whole body holding one request.
func ScanRequest(body []byte) (tasks.Request, bool) {
	s := scanner{b: body}
	var r tasks.Request
	if !s.request(&r) || !s.end() {
		return tasks.Request{}, false
	}
	return r, true
}

// minTask is the shortest task in a batch, with its comma: the count of
// tasks a body can hold is at most its length over this.
const minTask = len(`{"name":"x"},`)

// ScanBatch reads a whole body {"tasks": [request, ...]} of 1 to
// tasks.MaxBatch requests.
func ScanBatch(body []byte) ([]tasks.Request, bool) {
	s := scanner{b: body}
	if !s.consume('{') || !s.key("tasks") || !s.consume('[') {
		return nil, false
	}
	out := make([]tasks.Request, 0, min(tasks.MaxBatch, len(body)/minTask+1))
	for {
		if len(out) == tasks.MaxBatch {
			return nil, false
		}
		out = append(out, tasks.Request{})
		if !s.request(&out[len(out)-1]) {
			return nil, false
		}
		if s.consume(']') {
			break
		}
		if !s.consume(',') {
			return nil, false
		}
	}
	if !s.consume('}') || !s.end() {
		return nil, false
	}
	return out, true
}

// request reads one object {"name": ..., ...} into r; it fails when the
// object names no task.
func (s *scanner) request(r *tasks.Request) bool {
	if !s.consume('{') {
		return false
	}
	var seen int
	for {
		s.space()
		key, ok := s.plainString()
		if !ok || !s.consume(':') {
			return false
		}
		bit := fieldBit(key)
		if bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		s.space()
		if !s.field(bit, r) {
			return false
		}
		if s.consume('}') {
			return r.Name != ""
		}
		if !s.consume(',') {
			return false
		}
	}
}

// fieldBit returns the bit of a request's JSON key, 0 for an unknown one.
func fieldBit(key []byte) int {
	switch string(key) {
	case "name":
		return fieldName
	case "payload":
		return fieldPayload
	case "queue":
		return fieldQueue
	case "max_retries":
		return fieldMaxRetries
	case "timeout":
		return fieldTimeout
	case "result_ttl":
		return fieldResultTTL
	case "delay":
		return fieldDelay
	case "run_at":
		return fieldRunAt
	case "broadcast":
		return fieldBroadcast
	case "idempotency_key":
		return fieldIdempotencyKey
	case "unique":
		return fieldUnique
	case "on_conflict":
		return fieldOnConflict
	case "callback_url":
		return fieldCallbackURL
	}
	return 0
}

// field reads the value of the field of bit into r. A null leaves the field
// unset, as the strict decoder does.
func (s *scanner) field(bit int, r *tasks.Request) bool {
	if bit == fieldPayload {
		start := s.i
		if !s.skipValue(0) {
			return false
		}
		r.Payload = s.b[start:s.i:s.i] // capped: an append must not write over the body
		return true
	}
	if s.literal("null") {
		return true
	}
	switch bit {
	case fieldName:
		return s.text(&r.Name, &s.name)
	case fieldQueue:
		return s.text(&r.Queue, &s.queue)
	case fieldMaxRetries:
		return s.maxRetries(r)
	case fieldTimeout:
		return s.duration((*time.Duration)(&r.Timeout))
	case fieldResultTTL:
		return s.duration((*time.Duration)(&r.ResultTTL))
	case fieldDelay:
		return s.duration(&r.Delay)
	case fieldRunAt:
		return s.time(&r.RunAt)
	case fieldCallbackURL:
		var last string // not shared: URLs differ from task to task
		return s.text(&r.CallbackURL, &last)
	}
	return s.laterField(bit, r)
}

// text reads a string without escapes into dst, reusing *last when equal.
func (s *scanner) text(dst, last *string) bool {
	raw, ok := s.plainString()
	if !ok || !utf8.Valid(raw) {
		return false
	}
	if string(raw) != *last {
		*last = string(raw)
	}
	*dst = *last
	return true
}

// duration reads a string such as "30s" into dst; a negative one fails.
func (s *scanner) duration(dst *time.Duration) bool {
	raw, ok := s.plainString()
	if !ok || !utf8.Valid(raw) {
		return false
	}
	d, err := time.ParseDuration(string(raw))
	if err != nil || d < 0 {
		return false
	}
	*dst = d
	return true
}

// time reads an RFC 3339 string such as "2030-01-02T15:04:05Z" into dst,
// as the strict decoder parses it.
func (s *scanner) time(dst *time.Time) bool {
	raw, ok := s.plainString()
	if !ok || !utf8.Valid(raw) {
		return false
	}
	t, err := time.Parse(time.RFC3339, string(raw))
	if err != nil {
		return false
	}
	*dst = t
	return true
}

// integer reads a JSON number without fraction or exponent, of at most 18
// digits (longer ones, in or out of range, go to the strict decoder).
func (s *scanner) integer() (int, bool) {
	start := s.i
	if whole, ok := s.number(); !ok || !whole {
		return 0, false
	}
	digits := s.b[start:s.i]
	neg := digits[0] == '-'
	if neg {
		digits = digits[1:]
	}
	if len(digits) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range digits {
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// unique reads the object of "unique" into r: key, for and until, each at
// most once, as strings without escapes (anything else goes to the strict
// decoder); Request.Validate checks the values.
func (s *scanner) unique(r *tasks.Request) bool {
	if !s.consume('{') {
		return false
	}
	u := new(tasks.Unique)
	r.Unique = u
	if s.consume('}') {
		return true
	}
	var seen [3]bool
	for {
		s.space()
		key, ok := s.plainString()
		if !ok || !s.consume(':') {
			return false
		}
		s.space()
		var i int
		switch string(key) {
		case "key":
			ok = s.text(&u.Key, new(string))
		case "for":
			i, ok = 1, s.duration(&u.For)
		case "until":
			i, ok = 2, s.text(&u.Until, new(string))
		default:
			return false
		}
		if !ok || seen[i] {
			return false
		}
		seen[i] = true
		if s.consume('}') {
			return true
		}
		if !s.consume(',') {
			return false
		}
	}
}
