package wirejson

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/results"
)

// AppendRecord appends the JSON of r, as json.Marshal writes it. texts
// keeps the text of durations across the records of a batch.
func AppendRecord(b []byte, r *results.Record, texts *Durations) ([]byte, error) {
	var err error
	b = append(b, `{"id":"`...)
	b = AppendUUID(b, r.ID)
	b = append(b, `","name":`...)
	b = appendString(b, r.Name)
	b = append(b, `,"queue":`...)
	b = appendString(b, r.Queue)
	b = append(b, `,"status":`...)
	b = appendString(b, string(r.Status))
	b = append(b, `,"payload":`...)
	if b, err = appendRaw(b, r.Payload); err != nil {
		return b, err
	}
	if len(r.Result) > 0 {
		b = append(b, `,"result":`...)
		if b, err = appendRaw(b, r.Result); err != nil {
			return b, err
		}
	}
	if r.Error != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, r.Error)
	}
	return appendRecordTail(b, r, texts)
}

// appendRecordTail appends the fields of r from attempts on, and the
// closing brace.
func appendRecordTail(b []byte, r *results.Record, texts *Durations) ([]byte, error) {
	var err error
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(r.Attempts), 10)
	b = append(b, `,"max_retries":`...)
	b = strconv.AppendInt(b, int64(r.MaxRetries), 10)
	b = append(b, `,"timeout":`...)
	b = appendString(b, texts[0].of(r.Timeout))
	b = append(b, `,"result_ttl":`...)
	b = appendString(b, texts[1].of(r.ResultTTL))
	if r.Crashes != 0 {
		b = append(b, `,"crashes":`...)
		b = strconv.AppendInt(b, int64(r.Crashes), 10)
	}
	b = append(b, `,"created_at":`...)
	if b, err = appendTime(b, r.CreatedAt); err != nil {
		return b, err
	}
	for _, f := range [...]struct {
		key string
		t   time.Time
	}{{`,"run_at":`, r.RunAt}, {`,"started_at":`, r.StartedAt}, {`,"finished_at":`, r.FinishedAt}} {
		if !f.t.IsZero() {
			b = append(b, f.key...)
			if b, err = appendTime(b, f.t); err != nil {
				return b, err
			}
		}
	}
	if r.Broadcast != nil { // rare: encoding/json writes it
		out, err := json.Marshal(r.Broadcast)
		if err != nil {
			return b, err
		}
		b = append(b, `,"broadcast":`...)
		b = append(b, out...)
	}
	if r.Replayed {
		b = append(b, `,"replayed":true`...)
	}
	if b, err = appendLive(b, r); err != nil {
		return b, err
	}
	if r.CallbackURL != "" {
		b = append(b, `,"callback_url":`...)
		b = appendString(b, r.CallbackURL)
	}
	if r.Webhook != nil {
		wh, err := json.Marshal(r.Webhook)
		if err != nil {
			return b, err
		}
		b = append(b, `,"webhook":`...)
		b = append(b, wh...)
	}
	return append(b, '}'), nil
}

// Durations holds the last timeout and result TTL written, as text: the
// records of a batch mostly share them, and Duration.String allocates.
type Durations [2]durationText

// durationText is the text of the last duration it was asked for.
type durationText struct {
	d    time.Duration
	text string
}

func (t *durationText) of(d time.Duration) string {
	if t.text == "" || t.d != d { // "" never: Duration.String gives "0s" for 0
		t.d, t.text = d, d.String()
	}
	return t.text
}

// appendString appends s quoted. Printable ASCII other than the characters
// encoding/json escapes (quote, backslash, and <, >, & for HTML) is copied;
// any other string is left to encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendRaw appends a json.RawMessage as Record.MarshalJSON does: empty is null,
// and a valid value is compacted with <, >, & and U+2028/9 escaped. A value
// with none of those bytes nor whitespace, which the scanner finds valid, is
// copied as it is; encoding/json handles (or refuses) any other.
func appendRaw(b []byte, raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 {
		return append(b, "null"...), nil
	}
	if verbatim(raw) {
		return append(b, raw...), nil
	}
	out, err := json.Marshal(raw)
	return append(b, out...), err
}

// verbatim reports whether encoding/json would write raw unchanged.
func verbatim(raw []byte) bool {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r', '<', '>', '&', 0xe2:
			return false
		}
	}
	s := scanner{b: raw}
	return s.skipValue(0) && s.end()
}

// appendTime appends t as time.Time.MarshalJSON does. UTC times of years 0
// to 9999, all a record holds, are formatted in place.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); t.Location() != time.UTC || y < 0 || y > 9999 {
		out, err := json.Marshal(t)
		return append(b, out...), err
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// AppendUUID appends id in its canonical form, as id.String() spells it.
func AppendUUID(b []byte, id uuid.UUID) []byte {
	const hex = "0123456789abcdef"
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&0x0f])
	}
	return b
}
