package wirejson

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/results"
)

// renderedFields are the JSON names of results.Record in the order
// AppendRecord writes them. A field added to Record fails
// TestRenderCoversRecord until AppendRecord writes it too.
var renderedFields = []string{"id", "name", "queue", "status", "payload", "result", "error", "attempts",
	"max_retries", "timeout", "result_ttl", "crashes", "created_at", "run_at", "started_at", "finished_at",
	"broadcast", "replayed", "progress", "cancel_requested_at", "callback_url", "webhook"}

func TestRenderCoversRecord(t *testing.T) {
	t.Parallel()
	full := sampleRecords()[1] // every field set
	raw, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	var got []string
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, key.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(got, renderedFields) || reflect.TypeFor[results.Record]().NumField() != len(renderedFields) {
		t.Fatalf("results.Record renders %q (%d fields), AppendRecord writes %q", got, reflect.TypeFor[results.Record]().NumField(), renderedFields)
	}
}

func sampleRecords() []results.Record {
	created := time.UnixMilli(1764120000123).UTC()
	started, finished := created.Add(time.Second), created.Add(1500*time.Millisecond)
	id := uuid.MustParse("0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77")
	return []results.Record{
		{ID: id, Name: "echo", Queue: "default", Status: results.StatusQueued, Payload: json.RawMessage(`{"user":12345,"op":"x"}`),
			MaxRetries: 3, Timeout: 30 * time.Minute, ResultTTL: 24 * time.Hour, CreatedAt: created},
		{ID: id, Name: "e", Queue: "q", Status: results.StatusFailed, Payload: json.RawMessage(` [1, "<a&b>", "\u2028"] `),
			Result: json.RawMessage(`{"a": null}`), Error: "bad \"x\" <y> \n\x01 é \xff \u2028", Attempts: 4, MaxRetries: -1,
			Crashes: 2, Timeout: 1500 * time.Microsecond, CreatedAt: created, RunAt: started, StartedAt: started, FinishedAt: finished,
			Broadcast: &results.BroadcastResults{Targets: 2, Workers: map[string]results.WorkerAnswer{
				"w1": {Status: results.WorkerSucceeded, Result: json.RawMessage(` {"a": "<b>"} `), StartedAt: started, FinishedAt: finished},
				"w2": {Status: results.WorkerMissing, Error: "lost <x>"}}},
			Replayed: true,
			Progress: &results.Progress{Value: 0.4, Message: json.RawMessage(`{"step":"<x>"}`), At: started}, CancelRequestedAt: started,
			CallbackURL: "https://example.com/hook?a=1&b=<2>", Webhook: &results.WebhookDelivery{Status: results.WebhookPending,
				Attempts: 2, LastStatus: 503, LastError: "HTTP 503", NextAttemptAt: finished.Add(time.Second)}},
		{ID: id, Name: "echo", Queue: "default", Status: results.StatusScheduled, Payload: json.RawMessage(`1`),
			MaxRetries: 3, Timeout: 30 * time.Minute, ResultTTL: 24 * time.Hour, CreatedAt: created, RunAt: finished},
		{Name: "", Payload: nil, Result: json.RawMessage{}, CreatedAt: time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Payload: json.RawMessage(`{"a":1}x`), CreatedAt: created.In(time.FixedZone("x", 3600))},
		{Payload: json.RawMessage(`nul`), Result: json.RawMessage(`[1,2`)},
		{Payload: json.RawMessage{}, Result: json.RawMessage{}}, // empty, not nil: null and left out
	}
}

// TestAppendRecord checks AppendRecord against json.Marshal.
func TestAppendRecord(t *testing.T) {
	t.Parallel()
	for _, r := range sampleRecords() {
		checkAppendRecord(t, r)
	}
}

func checkAppendRecord(t *testing.T, r results.Record) {
	t.Helper()
	want, wantErr := json.Marshal(r)
	got, err := AppendRecord(nil, &r, new(Durations))
	if (err != nil) != (wantErr != nil) || err == nil && string(got) != string(want) {
		t.Fatalf("AppendRecord(%+v) = %s, %v; json.Marshal %s, %v", r, got, err, want, wantErr)
	}
}

// FuzzAppendRecord checks AppendRecord against json.Marshal on records made
// of fuzzed strings, raw JSON, numbers and times.
func FuzzAppendRecord(f *testing.F) {
	for _, r := range sampleRecords() {
		f.Add(r.ID[:], r.Name, r.Error, []byte(r.Payload), []byte(r.Result), r.Attempts, int64(r.Timeout), r.CreatedAt.UnixNano(), uint8(23))
	}
	f.Fuzz(func(t *testing.T, id []byte, name, errText string, payload, result []byte, n int, d, unixNano int64, flags uint8) {
		r := results.Record{Name: name, Queue: errText + name, Status: results.Status(name), Error: errText,
			Payload: payload, Result: result, Attempts: n, MaxRetries: -n, Crashes: n / 2,
			Timeout: time.Duration(d), ResultTTL: time.Duration(-d), CreatedAt: time.Unix(0, unixNano).UTC()}
		copy(r.ID[:], id)
		if flags&1 != 0 {
			r.Payload = nil
		}
		if flags&2 != 0 {
			r.StartedAt = r.CreatedAt
		}
		if flags&4 != 0 {
			finished := time.Unix(unixNano, 0).UTC() // years far outside 0-9999 too
			r.FinishedAt = finished
		}
		if flags&8 != 0 {
			r.CreatedAt = r.CreatedAt.In(time.FixedZone("z", int(d%100000)))
		}
		if flags&16 != 0 {
			r.RunAt = time.UnixMilli(unixNano).UTC()
		}
		r.Replayed = flags&32 != 0
		checkAppendRecord(t, r)
	})
}
