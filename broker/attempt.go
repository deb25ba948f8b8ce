package broker

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Attempt is what a task's hash holds in FieldAttempt: its last attempt
// started. One field instead of three ("tk", "st", "a" before) leaves
// start.lua two fields fewer to write per task.
type Attempt struct {
	Token   string    // the lease token it started under; empty once reaped
	Started time.Time // on Redis's clock; zero if unknown
	Number  int       // attempts started so far, this one included
}

// AttemptOf reads a task's last Attempt from the fields of its hash, or
// from "tk", "st" and "a" in a hash of an earlier build. ok is false when
// no attempt has started.
func AttemptOf(h map[string]string) (a Attempt, ok bool, err error) {
	if v, found := h[FieldAttempt]; found {
		a, err = ParseAttempt(v)
		return a, err == nil, err
	}
	n, found := h[oldFieldAttempts]
	if !found {
		return Attempt{}, false, nil
	}
	a.Token = h[oldFieldToken]
	if a.Number, err = parseCount(n); err != nil {
		return Attempt{}, false, fmt.Errorf("attempts %q: %w", n, err)
	}
	if st, found := h[oldFieldStarted]; found {
		ms, err := strconv.ParseInt(st, 10, 64)
		if err != nil {
			return Attempt{}, false, fmt.Errorf("started %q: %w", st, err)
		}
		a.Started = time.UnixMilli(ms).UTC()
	}
	return a, true, nil
}

// ParseAttempt reads a FieldAttempt value.
func ParseAttempt(s string) (Attempt, error) {
	tok, rest, ok1 := strings.Cut(s, ",")
	st, n, ok2 := strings.Cut(rest, ",")
	if !ok1 || !ok2 {
		return Attempt{}, fmt.Errorf("attempt %q: %w", s, errAttempt)
	}
	ms, err := strconv.ParseInt(st, 10, 64)
	if err != nil {
		return Attempt{}, fmt.Errorf("attempt %q: %w", s, errAttempt)
	}
	a := Attempt{Token: tok}
	if ms > 0 {
		a.Started = time.UnixMilli(ms).UTC()
	}
	if a.Number, err = parseCount(n); err != nil {
		return Attempt{}, fmt.Errorf("attempt %q: %w", s, errAttempt)
	}
	return a, nil
}

// parseCount reads a count that fits an int32.
func parseCount(s string) (int, error) {
	v, err := strconv.ParseInt(s, 10, 32)
	return int(v), err
}

// errAttempt reports a FieldAttempt value that does not parse.
var errAttempt = errors.New("want token,started_ms,number")

// Fields of hashes written before FieldAttempt.
const (
	oldFieldAttempts = "a"
	oldFieldStarted  = "st"
	oldFieldToken    = "tk"
)
