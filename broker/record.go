package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/runq/runq/broker/internal/layout"

	"github.com/google/uuid"

	"github.com/runq/runq/results"
)

// statusOf reads a task's status from the fields of its hash. enqueue.lua
// and a task's first start leave the status field out (one field fewer to
// write per task, the usual case): absent, it is queued until an attempt
// has started (the attempt field is there) and running after. Every later
// status is written. A hash with neither a status nor a meta, which
// enqueue.lua always writes, is not a task's: its status is "". The Lua
// scripts read it the same way, with the function in lua/status.lua.
func statusOf(h map[string]string) results.Status {
	if s, ok := h[layout.FieldStatus]; ok {
		return results.Status(s)
	}
	if _, ok := h[layout.FieldMeta]; !ok {
		return ""
	}
	if _, started := h[layout.FieldAttempt]; started {
		return results.StatusRunning
	}
	return results.StatusQueued
}

// meta is what a task's hash holds in its meta field: all that never
// changes after enqueueing but the payload and the creation time, as
// "max_retries,timeout_ms,ttl_ms,queue,name" (for example
// "5,6e4,,default,email.send"). A queue name has no comma; the name
// comes last, so the parse does not depend on what names may hold.
// Memory: a number equal to its default (metaMaxRetries, metaTimeout,
// metaResultTTL) is left empty, and the durations are written short (see
// appendMillis). A task with a 64 B payload and the default options,
// ",,,default,email.send", then keeps its hash within 112 bytes, the size
// Redis's allocator rounds to below 128.
// Every field costs Redis CPU on every task, in the HSET that enqueues it
// and the HMGET that starts it: from three fields (name, queue, options)
// to one, enqueue.lua went from 3.8 to 3.0 µs per task in batches of 1,000
// (Redis 7.0.15, INFO cpu).
type meta struct {
	maxRetries int
	timeout    time.Duration // whole milliseconds
	resultTTL  time.Duration // whole milliseconds
	queue      string
	name       string
}

// The values an empty number of a meta field stands for: the defaults of
// tasks.ClientConfig, which most tasks keep. lua/status.lua's ttl_of reads
// an empty result TTL as metaResultTTL too.
const (
	metaMaxRetries = 3
	metaTimeout    = 30 * time.Minute
	metaResultTTL  = 24 * time.Hour
)

// String renders m as the meta field holds it.
func (m meta) String() string {
	b := make([]byte, 0, 32+len(m.queue)+len(m.name))
	if m.maxRetries != metaMaxRetries {
		b = strconv.AppendInt(b, int64(m.maxRetries), 10)
	}
	b = append(b, ',')
	if m.timeout != metaTimeout {
		b = appendMillis(b, m.timeout.Milliseconds())
	}
	b = append(b, ',')
	if m.resultTTL != metaResultTTL {
		b = appendMillis(b, m.resultTTL.Milliseconds())
	}
	b = append(b, ',')
	b = append(b, m.queue...)
	b = append(b, ',')
	return string(append(b, m.name...))
}

// appendMillis appends ms in decimal, with a run of three or more
// trailing zeros written as an exponent: 1800000 as "18e5", 86400000 as
// "864e5". parseMillis and lua/status.lua's ttl_of read both forms.
func appendMillis(b []byte, ms int64) []byte {
	mant, k := ms, 0
	for mant != 0 && mant%10 == 0 {
		mant /= 10
		k++
	}
	if k < 3 {
		return strconv.AppendInt(b, ms, 10)
	}
	b = strconv.AppendInt(b, mant, 10)
	b = append(b, 'e')
	return strconv.AppendInt(b, int64(k), 10)
}

// parseMillis reads what appendMillis writes with an exponent: a decimal
// mantissa, 'e', and a decimal exponent, within int64.
func parseMillis(s string) (int64, error) {
	mant, exp, ok := strings.Cut(s, "e")
	v, err1 := strconv.ParseInt(mant, 10, 64)
	k, err2 := strconv.Atoi(exp)
	if !ok || err1 != nil || err2 != nil || k < 1 || k > 18 || strings.HasPrefix(exp, "+") {
		return 0, errMeta
	}
	for range k {
		if v > math.MaxInt64/10 || v < math.MinInt64/10 {
			return 0, errMeta
		}
		v *= 10
	}
	return v, nil
}

// errMeta reports a meta field that does not parse.
var errMeta = errors.New("want max_retries,timeout_ms,ttl_ms,queue,name")

// parseMeta reads a meta field.
func parseMeta(s string) (meta, error) {
	n := [3]int64{metaMaxRetries, metaTimeout.Milliseconds(), metaResultTTL.Milliseconds()}
	rest := s
	for i := range n {
		head, tail, ok := strings.Cut(rest, ",")
		v, err := n[i], error(nil)
		if head != "" {
			v, err = strconv.ParseInt(head, 10, 64)
		}
		if i > 0 && err != nil {
			v, err = parseMillis(head)
		}
		if !ok || err != nil {
			return meta{}, fmt.Errorf("meta %q: %w", s, errMeta)
		}
		n[i], rest = v, tail
	}
	queue, name, ok := strings.Cut(rest, ",")
	if !ok || n[0] < -1<<31 || n[0] > 1<<31-1 {
		return meta{}, fmt.Errorf("meta %q: %w", s, errMeta)
	}
	return meta{maxRetries: int(n[0]), timeout: time.Duration(n[1]) * time.Millisecond,
		resultTTL: time.Duration(n[2]) * time.Millisecond, queue: queue, name: name}, nil
}

// metaName returns the name at the end of a meta field that may not parse,
// so that a task with a malformed meta fails on its name, not on nothing.
func metaName(s string) string {
	for range 4 {
		_, s, _ = strings.Cut(s, ",")
	}
	return s
}

// attempt is what a task's hash holds in its attempt field: its last
// attempt started, as "token,started_ms,number". One field instead of
// three leaves start.lua two fields fewer to write per task.
type attempt struct {
	token   string    // the lease token it started under; empty once reaped
	started time.Time // on Redis's clock; zero if unknown
	number  int       // attempts started so far, this one included
}

// errAttempt reports an attempt field that does not parse.
var errAttempt = errors.New("want token,started_ms,number")

// parseAttempt reads an attempt field.
func parseAttempt(s string) (attempt, error) {
	tok, rest, ok1 := strings.Cut(s, ",")
	st, n, ok2 := strings.Cut(rest, ",")
	if !ok1 || !ok2 {
		return attempt{}, fmt.Errorf("attempt %q: %w", s, errAttempt)
	}
	ms, err := strconv.ParseInt(st, 10, 64)
	if err != nil {
		return attempt{}, fmt.Errorf("attempt %q: %w", s, errAttempt)
	}
	a := attempt{token: tok}
	if ms > 0 {
		if a.started, ok1 = msTime(ms); !ok1 {
			return attempt{}, fmt.Errorf("attempt %q: start out of range", s)
		}
	}
	if a.number, err = parseCount(n); err != nil {
		return attempt{}, fmt.Errorf("attempt %q: %w", s, errAttempt)
	}
	return a, nil
}

// parseCount reads a count that fits an int32; "" is 0.
func parseCount(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 32)
	return int(v), err
}

// decodeRecord builds the record of task id from the fields of its hash.
// A field that is missing reads as its zero value; one that is present but
// does not parse, or an unknown status, is results.ErrCorrupt.
func decodeRecord(id uuid.UUID, h map[string]string) (results.Record, error) {
	if len(h) == 0 {
		return results.Record{}, fmt.Errorf("broker: task %s: %w", id, results.ErrNotFound)
	}
	d := decoder{h: h}
	r := results.Record{
		ID:         id,
		Status:     statusOf(h),
		Error:      layout.JoinParts(h, layout.FieldError, h[layout.FieldError]),
		Crashes:    d.int(layout.FieldCrashes),
		CreatedAt:  d.created(id),
		RunAt:      d.time(layout.FieldRunAt),
		FinishedAt: d.time(layout.FieldFinished),
		Payload:    d.json(layout.FieldPayload),
		Result:     d.json(layout.FieldResult),
	}
	if m, err := parseMeta(h[layout.FieldMeta]); err != nil {
		d.fail(err)
	} else {
		r.Name, r.Queue, r.MaxRetries, r.Timeout, r.ResultTTL = m.name, m.queue, m.maxRetries, m.timeout, m.resultTTL
	}
	if v, ok := h[layout.FieldAttempt]; ok {
		if a, err := parseAttempt(v); err != nil {
			d.fail(err)
		} else {
			r.Attempts, r.StartedAt = a.number, a.started
		}
	}
	decodeLive(&d, &r)
	if d.err == nil && !r.Status.Valid() {
		d.err = fmt.Errorf("status %q", r.Status)
	}
	if d.err == nil {
		d.fail(decodeWebhook(&r, h))
	}
	if d.err != nil {
		return results.Record{}, fmt.Errorf("broker: decode task %s: %w: %v", id, results.ErrCorrupt, d.err)
	}
	if r.Payload == nil {
		r.Payload = json.RawMessage("null")
	}
	return r, nil
}

// decoder reads typed fields from a hash and keeps the first error.
type decoder struct {
	h   map[string]string
	err error
}

// fail keeps err if it is the first.
func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) int64(field string) int64 {
	v, ok := d.h[field]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		d.fail(fmt.Errorf("field %s: %q is not an integer", field, v))
	}
	return n
}

func (d *decoder) int(field string) int {
	n := d.int64(field)
	if n < -1<<31 || n > 1<<31-1 {
		d.fail(fmt.Errorf("field %s: %d out of range", field, n))
		return 0
	}
	return int(n)
}

// time reads a time in ms; absent is the zero Time. A time outside the
// years 0 to 9999, which JSON cannot show, is corrupt.
func (d *decoder) time(field string) time.Time {
	if _, ok := d.h[field]; !ok {
		return time.Time{}
	}
	t, ok := msTime(d.int64(field))
	if !ok {
		d.fail(fmt.Errorf("field %s: %s is out of range", field, d.h[field]))
	}
	return t
}

// created reads the creation time of task id, which its created field
// holds less the time the ID carries (see layout.FieldCreated).
func (d *decoder) created(id uuid.UUID) time.Time {
	if _, ok := d.h[layout.FieldCreated]; !ok {
		return time.Time{}
	}
	delta := d.int64(layout.FieldCreated)
	t, ok := msTime(layout.IDMillis(id) + delta) // IDMillis < 1<<48: no overflow within msTime's range
	if !ok || delta > 1<<62 || delta < -1<<62 {
		d.fail(fmt.Errorf("field %s: %s is out of range", layout.FieldCreated, d.h[layout.FieldCreated]))
	}
	return t
}

// msTime returns the UTC time ms milliseconds after the Unix epoch, and
// whether it falls in the years 0 to 9999, which JSON can show.
func msTime(ms int64) (time.Time, bool) {
	t := time.UnixMilli(ms).UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return time.Time{}, false
	}
	return t, true
}

func (d *decoder) json(field string) json.RawMessage {
	stored, ok := d.h[field]
	if !ok {
		return nil
	}
	v, err := unpack(layout.JoinParts(d.h, field, stored))
	if err != nil {
		d.fail(fmt.Errorf("field %s: %w", field, err))
		return nil
	}
	if !json.Valid(v) {
		d.fail(fmt.Errorf("field %s is not valid JSON", field))
		return nil
	}
	return json.RawMessage(v)
}
