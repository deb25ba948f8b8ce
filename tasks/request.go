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
	// Delay holds the task back this long after it is submitted, counted
	// on Redis's clock (so clients' clocks do not matter); 0 means none.
	// The task is scheduled until then, then queued. Up to MaxDelay; not
	// with RunAt.
	Delay time.Duration
	// RunAt holds the task back until this time; the zero Time means
	// none, and a time already past on Redis's clock queues it at once.
	// Millisecond precision; up to MaxDelay ahead; not with Delay.
	RunAt time.Time
}

// NoRetries as a MaxRetries asks for no retries: a failed attempt is final.
const NoRetries = -1

// Request asks for a task to be run. Its JSON is the body of POST
// /v1/tasks: {"name", "payload", "queue", "max_retries", "timeout",
// "result_ttl", "delay", "run_at", "idempotency_key", "unique",
// "on_conflict"}, durations as strings such as "30s", run_at as an RFC
// 3339 time.
type Request struct {
	Name    string          // the name a worker registered the task's handler under
	Payload json.RawMessage // the handler's input, any JSON; empty means null
	Options

	// Broadcast runs the task once on every live worker that registered
	// its name and serves its queue when it is submitted, rather than once
	// on one of them; the record holds each worker's answer (see
	// results.BroadcastResults). Not with Delay or RunAt, nor in a batch,
	// nor with IdempotencyKey or Unique;
	// MaxRetries does not apply (a worker's run is not retried).
	Broadcast bool
	// IdempotencyKey makes a submission repeated within the client's
	// IdempotencyTTL (24h) return the task first submitted with the key
	// in the same queue (its current record, Replayed) instead of a second
	// task; the same key with another request is ErrIdempotencyMismatch.
	// Over HTTP, the Idempotency-Key header (or "idempotency_key" in a
	// batch's task). Up to MaxKeyLen bytes; "" means none. The key
	// protects only while the first task's record lasts: once it expired
	// (a ResultTTL shorter than the IdempotencyTTL) or was purged, the key
	// is free again, so give such tasks a ResultTTL at least as long.
	// Not with Broadcast.
	IdempotencyKey string
	// Unique, when set, makes the task the only one holding Unique.Key in
	// its queue while its hold lasts (see Unique).
	Unique *Unique
	// OnConflict is what a submission whose unique key another task holds
	// gets: OnConflictReturn ("" too), the holder's record, Replayed;
	// OnConflictReject, a *DuplicateError naming the holder.
	OnConflict string
	// CallbackURL, when set, is where the workers POST the task's final
	// record, signed, once it ends (JSON "callback_url"; see
	// VerifyWebhook): an http or https URL of at most MaxCallbackURL
	// bytes. A Client refuses a loopback, private or link-local address
	// unless ClientConfig.WebhookAllowPrivate. A task whose webhook waits
	// for a retry is kept past its ResultTTL until the retries end.
	CallbackURL string
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
	// MaxDelay is the longest a task can be held back, by Delay or RunAt.
	MaxDelay = 365 * 24 * time.Hour
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
	if r.Broadcast && (r.Delay != 0 || !r.RunAt.IsZero()) {
		return fmt.Errorf("%w: broadcast: a broadcast task runs at once, on the workers live then: no delay or run_at", ErrInvalid)
	}
	if r.Broadcast && r.CallbackURL != "" {
		return fmt.Errorf("%w: broadcast: a broadcast task has no webhook (callback_url): wait for it, or follow its events", ErrInvalid)
	}
	if err := r.validateDelay(); err != nil {
		return err
	}
	if err := r.validateKeys(); err != nil {
		return err
	}
	return validCallbackURL(r.CallbackURL)
}

// validateDelay checks Delay and RunAt. RunAt is checked against this
// machine's clock: MaxDelay is a bound on mistakes, not a deadline.
func (r *Request) validateDelay() error {
	switch {
	case r.Delay != 0 && !r.RunAt.IsZero():
		return fmt.Errorf("%w: delay and run_at: give one or the other", ErrInvalid)
	case r.Delay < 0 || r.Delay > MaxDelay:
		return fmt.Errorf("%w: delay %s: must be 0 to %s (365 days)", ErrInvalid, r.Delay, MaxDelay)
	case !r.RunAt.IsZero() && time.Until(r.RunAt) > MaxDelay:
		return fmt.Errorf("%w: run_at %s: must be at most 365 days ahead", ErrInvalid, r.RunAt.Format(time.RFC3339))
	}
	return nil
}

// requestJSON is the JSON form of a Request as MarshalJSON writes it.
type requestJSON struct {
	Name        string          `json:"name"`
	Payload     json.RawMessage `json:"payload,omitempty"`
	Queue       string          `json:"queue,omitempty"`
	MaxRetries  *int            `json:"max_retries,omitempty"`
	Timeout     string          `json:"timeout,omitempty"`
	ResultTTL   string          `json:"result_ttl,omitempty"`
	Delay       string          `json:"delay,omitempty"`
	RunAt       string          `json:"run_at,omitempty"`
	Idempotency string          `json:"idempotency_key,omitempty"`
	Unique      *Unique         `json:"unique,omitempty"`
	OnConflict  string          `json:"on_conflict,omitempty"`
	Broadcast   bool            `json:"broadcast,omitempty"`
	CallbackURL string          `json:"callback_url,omitempty"`
}

// MarshalJSON writes r as the body of POST /v1/tasks, leaving out what is
// unset; NoRetries is "max_retries": 0.
func (r Request) MarshalJSON() ([]byte, error) {
	w := requestJSON{Name: r.Name, Payload: r.Payload, Queue: r.Queue, Broadcast: r.Broadcast,
		Idempotency: r.IdempotencyKey, Unique: r.Unique, OnConflict: r.OnConflict, CallbackURL: r.CallbackURL}
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
	if r.Delay != 0 {
		w.Delay = r.Delay.String()
	}
	if !r.RunAt.IsZero() {
		w.RunAt = r.RunAt.Format(time.RFC3339Nano)
	}
	return json.Marshal(w)
}
