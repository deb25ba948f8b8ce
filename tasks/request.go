package tasks

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

// Request asks for a task to be run. Its JSON names are those of the body of
// POST /v1/tasks; absent options take the handler's defaults, then the
// Client's.
type Request struct {
	Name       string           `json:"name"`
	Payload    json.RawMessage  `json:"payload,omitempty"`     // any JSON; absent means null
	Queue      string           `json:"queue,omitempty"`       // "" means the default queue
	MaxRetries *int             `json:"max_retries,omitempty"` // 0 means no retries
	Timeout    results.Duration `json:"timeout,omitempty"`     // per attempt; 0 means default
	ResultTTL  results.Duration `json:"result_ttl,omitempty"`  // once finished; 0 means default
}

// Limits on a Request's options.
const (
	MaxRetriesLimit = 1000
	MaxTimeout      = 24 * time.Hour
	MinResultTTL    = time.Second
	MaxResultTTL    = 30 * 24 * time.Hour
	// MaxPayload is the largest payload accepted, in bytes of JSON.
	MaxPayload = 1 << 20
)

// Validate reports the first problem with r, wrapping ErrInvalid, or
// broker.ErrBadQueue for a bad queue name.
func (r *Request) Validate() error {
	if err := ValidName(r.Name); err != nil {
		return err
	}
	if r.Queue != "" {
		if err := broker.ValidQueue(r.Queue); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	if len(r.Payload) > MaxPayload {
		return fmt.Errorf("%w: payload is %d bytes, over the limit of %d", ErrInvalid, len(r.Payload), MaxPayload)
	}
	if len(r.Payload) > 0 && !json.Valid(r.Payload) {
		return fmt.Errorf("%w: payload is not valid JSON", ErrInvalid)
	}
	if !utf8.Valid(r.Payload) {
		return fmt.Errorf("%w: payload is not valid UTF-8", ErrInvalid)
	}
	if r.MaxRetries != nil && (*r.MaxRetries < 0 || *r.MaxRetries > MaxRetriesLimit) {
		return fmt.Errorf("%w: max_retries %d: must be 0 to %d", ErrInvalid, *r.MaxRetries, MaxRetriesLimit)
	}
	if t := time.Duration(r.Timeout); t < 0 || t > MaxTimeout || (t > 0 && t < time.Millisecond) {
		return fmt.Errorf("%w: timeout %s: must be 1ms to %s", ErrInvalid, t, MaxTimeout)
	}
	if ttl := time.Duration(r.ResultTTL); ttl != 0 && (ttl < MinResultTTL || ttl > MaxResultTTL) {
		return fmt.Errorf("%w: result_ttl %s: must be %s to %s", ErrInvalid, ttl, MinResultTTL, MaxResultTTL)
	}
	return nil
}
