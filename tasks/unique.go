package tasks

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/runq/runq/broker"
)

// Unique makes a task the only one holding Key in its queue while its hold
// lasts: for For after its submission, or Until it has started or
// finished. Exactly one of For and Until is set. A submission whose key
// is held gets the holder instead (see Request.OnConflict). The key is
// free again atomically with the state change that ends the hold, and in
// every mode once the holder is canceled or its record has expired.
// Its JSON is {"key": "...", "for": "10m"} or {"key": "...", "until":
// "finished"}.
type Unique struct {
	Key   string
	For   time.Duration // hold the key this long after the submission, up to MaxUniqueFor
	Until string        // UntilStarted or UntilFinished
}

// Values of Unique.Until and Request.OnConflict.
const (
	UntilStarted     = "started"  // the key is free once the holder has started
	UntilFinished    = "finished" // the key is free once the holder succeeded or failed
	OnConflictReturn = "return"   // the holder's record, Replayed (the default)
	OnConflictReject = "reject"   // a *DuplicateError naming the holder
)

// Limits of keys.
const (
	// MaxKeyLen is the longest idempotency or unique key, in bytes.
	MaxKeyLen = 256
	// MaxUniqueFor is the longest Unique.For.
	MaxUniqueFor = 30 * 24 * time.Hour
	// uniqueBound is how long a claim held Until a status lasts at most,
	// after the task is due, so that no claim lives for ever: its status
	// frees it earlier.
	uniqueBound = 30 * 24 * time.Hour
)

// uniqueJSON is Unique's JSON form.
type uniqueJSON struct {
	Key   string `json:"key"`
	For   string `json:"for,omitempty"`
	Until string `json:"until,omitempty"`
}

// MarshalJSON writes u as the "unique" field of a submission.
func (u Unique) MarshalJSON() ([]byte, error) {
	w := uniqueJSON{Key: u.Key, Until: u.Until}
	if u.For != 0 {
		w.For = u.For.String()
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the "unique" field of a submission strictly: an
// object of key, for and until, each at most once; Request.Validate
// checks the values.
func (u *Unique) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New(`want an object such as {"key": "k", "for": "10m"}`)
	}
	seen := map[string]bool{}
	var out Unique
	for dec.More() {
		tok, _ := dec.Token()
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		if seen[key] {
			return fmt.Errorf("%q is given twice", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "key":
			err = decodeString(v, &out.Key)
		case "for":
			err = decodeDuration(v, &out.For)
		case "until":
			err = decodeString(v, &out.Until)
		default:
			return fmt.Errorf("unknown field %q: the fields are key, for and until", truncate(key, 40))
		}
		if err != nil {
			return fmt.Errorf("%q: %v", key, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return errors.New("invalid JSON")
	}
	*u = out
	return nil
}

// validateKeys checks the idempotency key, Unique and OnConflict. A
// broadcast task takes no key: broadcast_enqueue.lua claims none, and a
// key it ignored would let a retried submission run twice everywhere.
func (r *Request) validateKeys() error {
	if r.Broadcast && (r.IdempotencyKey != "" || r.Unique != nil) {
		return fmt.Errorf("%w: broadcast: a broadcast task takes no idempotency_key or unique key", ErrInvalid)
	}
	if r.IdempotencyKey != "" {
		if err := validKey(r.IdempotencyKey); err != nil {
			return fmt.Errorf("%w: idempotency_key: %v", ErrInvalid, err)
		}
	}
	if r.OnConflict != "" && r.OnConflict != OnConflictReturn && r.OnConflict != OnConflictReject {
		return fmt.Errorf("%w: on_conflict %q: want %q or %q", ErrInvalid, truncate(r.OnConflict, 40), OnConflictReturn, OnConflictReject)
	}
	u := r.Unique
	if u == nil {
		if r.OnConflict != "" {
			return fmt.Errorf("%w: on_conflict applies to a unique task: give unique too", ErrInvalid)
		}
		return nil
	}
	if err := validKey(u.Key); err != nil {
		return fmt.Errorf("%w: unique.key: %v", ErrInvalid, err)
	}
	switch {
	case (u.For != 0) == (u.Until != ""):
		return fmt.Errorf(`%w: unique: give one of "for" (a duration) and "until" ("started" or "finished")`, ErrInvalid)
	case u.For < 0 || u.For > MaxUniqueFor:
		return fmt.Errorf("%w: unique.for %s: must be more than 0, up to %s", ErrInvalid, u.For, MaxUniqueFor)
	case u.Until != "" && u.Until != UntilStarted && u.Until != UntilFinished:
		return fmt.Errorf("%w: unique.until %q: want %q or %q", ErrInvalid, truncate(u.Until, 40), UntilStarted, UntilFinished)
	}
	return nil
}

// validKey checks an idempotency or unique key: 1 to MaxKeyLen bytes of
// UTF-8 without control characters.
func validKey(k string) error {
	if k == "" || len(k) > MaxKeyLen {
		return fmt.Errorf("must be 1 to %d bytes, not %d", MaxKeyLen, len(k))
	}
	if !utf8.ValidString(k) {
		return errors.New("must be UTF-8")
	}
	for _, c := range k {
		if c < 0x20 || c == 0x7f {
			return errors.New("must not hold control characters")
		}
	}
	return nil
}

// keyClaims returns the broker's claims of the keys r carries, for t
// built from r, with idempotency keys held for ttl; nil when r carries
// none.
func keyClaims(r *Request, t *broker.NewTask, ttl time.Duration) []broker.KeyClaim {
	var out []broker.KeyClaim
	if r.IdempotencyKey != "" {
		out = append(out, broker.KeyClaim{Kind: broker.KeyIdempotency, Key: r.IdempotencyKey, Digest: digest(r, t.Queue), TTL: ttl})
	}
	if u := r.Unique; u != nil {
		c := broker.KeyClaim{Kind: broker.KeyUniqueFor, Key: u.Key, TTL: u.For, Reject: r.OnConflict == OnConflictReject}
		if u.Until != "" {
			c.Kind, c.TTL = broker.KeyUntilFinished, uniqueBound+r.Delay
			if u.Until == UntilStarted {
				c.Kind = broker.KeyUntilStarted
			}
			if !r.RunAt.IsZero() {
				c.TTL += max(time.Until(r.RunAt), 0)
			}
		}
		out = append(out, c)
	}
	return out
}

// digest identifies a request for its idempotency key: its name, queue,
// payload (compacted: spacing does not count) and options, as given.
func digest(r *Request, queue string) string {
	h := sha256.New()
	var p bytes.Buffer
	if len(r.Payload) == 0 || json.Compact(&p, r.Payload) != nil {
		p.Reset()
		p.Write(r.Payload)
	}
	runAt := int64(0)
	if !r.RunAt.IsZero() {
		runAt = r.RunAt.UnixMilli()
	}
	for _, f := range []string{r.Name, queue, p.String(), strconv.Itoa(r.MaxRetries), r.Timeout.String(),
		r.ResultTTL.String(), r.Delay.String(), strconv.FormatInt(runAt, 10), r.OnConflict} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	if u := r.Unique; u != nil {
		fmt.Fprintf(h, "%s\x00%d\x00%s", u.Key, u.For, u.Until)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
