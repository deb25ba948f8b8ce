package tasks

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/runq/runq/broker"
)

// Options are a submission's settings. A zero field is unset: it takes the
// handler's default, then the client's (see the package comment).
type Options struct {
	// Queue is where the task waits for a worker; "" means the client's
	// default queue, "default" unless ClientConfig says otherwise.
	Queue string
	// MaxRetries is how many times a failed attempt is retried; 0 means
	// the default (3), NoRetries none.
	MaxRetries int
	// Timeout bounds each attempt; 0 means the default (30m).
	Timeout time.Duration
	// ResultTTL is how long the task's record is kept once it finished;
	// 0 means the default (24h).
	ResultTTL time.Duration
}

// NoRetries as a MaxRetries asks for no retries: a failed attempt is final.
const NoRetries = -1

// Request asks for a task to be run. Its JSON is the body of POST
// /v1/tasks: {"name", "payload", "queue", "max_retries", "timeout",
// "result_ttl"}, durations as strings such as "30s".
type Request struct {
	Name    string          // the name a worker registered the task's handler under
	Payload json.RawMessage // the handler's input, any JSON; empty means null
	Options
}

// Limits of a Request.
const (
	MaxNameLen      = 128
	MaxRetriesLimit = 1000
	MaxTimeout      = 24 * time.Hour
	MinResultTTL    = time.Second
	MaxResultTTL    = 30 * 24 * time.Hour
	// MaxPayload is the largest payload accepted, in bytes of JSON.
	MaxPayload = 1 << 20
)

// Validate reports the first problem with r, wrapping ErrInvalid. A Client
// validates every request before it queues anything.
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
	if err := (HandlerOptions{MaxRetries: r.MaxRetries, Timeout: r.Timeout}).validate(); err != nil {
		return err
	}
	if ttl := r.ResultTTL; ttl != 0 && (ttl < MinResultTTL || ttl > MaxResultTTL) {
		return fmt.Errorf("%w: result_ttl %s: must be %s to %s", ErrInvalid, ttl, MinResultTTL, MaxResultTTL)
	}
	return nil
}

// requestJSON is the JSON form of a Request as MarshalJSON writes it.
type requestJSON struct {
	Name       string          `json:"name"`
	Payload    json.RawMessage `json:"payload,omitempty"`
	Queue      string          `json:"queue,omitempty"`
	MaxRetries *int            `json:"max_retries,omitempty"`
	Timeout    string          `json:"timeout,omitempty"`
	ResultTTL  string          `json:"result_ttl,omitempty"`
}

// MarshalJSON writes r as the body of POST /v1/tasks, leaving out what is
// unset; NoRetries is "max_retries": 0.
func (r Request) MarshalJSON() ([]byte, error) {
	w := requestJSON{Name: r.Name, Payload: r.Payload, Queue: r.Queue}
	if n := r.MaxRetries; n != 0 {
		if n == NoRetries {
			n = 0
		}
		w.MaxRetries = &n
	}
	if r.Timeout != 0 {
		w.Timeout = r.Timeout.String()
	}
	if r.ResultTTL != 0 {
		w.ResultTTL = r.ResultTTL.String()
	}
	return json.Marshal(w)
}
