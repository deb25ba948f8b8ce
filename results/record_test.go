package results_test

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

var testID = uuid.MustParse("0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77")

func TestDecode(t *testing.T) {
	t.Parallel()
	full := map[string]string{
		broker.FieldMeta: "3,30000,3600000,default,echo", broker.FieldStatus: "succeeded", broker.FieldPayload: `{"a":1}`,
		broker.FieldResult: `[1,2]`, broker.FieldAttempt: "abc,1700000000100,2",
		broker.FieldCreated:  "1700000000000",
		broker.FieldFinished: "1700000000200", broker.FieldCrashes: "1", broker.FieldFailures: "1",
	}
	rec, err := results.Decode(testID, full)
	if err != nil {
		t.Fatalf("Decode(full) = %v", err)
	}
	want := results.Record{
		ID: testID, Name: "echo", Queue: "default", Status: results.StatusSucceeded,
		Payload: json.RawMessage(`{"a":1}`), Result: json.RawMessage(`[1,2]`), Attempts: 2, MaxRetries: 3,
		Timeout: results.Duration(30 * time.Second), ResultTTL: results.Duration(time.Hour), Crashes: 1,
		CreatedAt: time.UnixMilli(1700000000000).UTC(),
	}
	if rec.Name != want.Name || rec.Status != want.Status || string(rec.Payload) != string(want.Payload) ||
		string(rec.Result) != string(want.Result) || rec.Attempts != 2 || rec.MaxRetries != 3 ||
		rec.Timeout != want.Timeout || rec.ResultTTL != want.ResultTTL || rec.Crashes != 1 ||
		!rec.CreatedAt.Equal(want.CreatedAt) || rec.StartedAt == nil || rec.FinishedAt == nil ||
		rec.FinishedAt.Sub(rec.CreatedAt) != 200*time.Millisecond {
		t.Fatalf("Decode(full) = %+v, want %+v", rec, want)
	}
	out, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"created_at":"2023-11-14T22:13:20Z"`, `"finished_at":"2023-11-14T22:13:20.2Z"`, `"timeout":"30s"`, `"status":"succeeded"`} {
		if !strings.Contains(string(out), s) {
			t.Errorf("JSON %s lacks %s", out, s)
		}
	}
	if strings.Contains(string(out), "token") || strings.Contains(string(out), "failures") {
		t.Errorf("JSON %s shows internal fields", out)
	}

	// A hash of an earlier build: name, queue, options, the attempt's
	// count, start and token in fields of their own.
	older := maps.Clone(full)
	delete(older, broker.FieldMeta)
	delete(older, broker.FieldAttempt)
	older["n"], older["q"], older["o"] = "echo", "default", "3,30000,3600000"
	older["a"], older["st"], older["tk"] = "2", "1700000000100", "abc"
	if old, err := results.Decode(testID, older); err != nil || old.Name != "echo" || old.Queue != "default" ||
		old.MaxRetries != 3 || old.ResultTTL != want.ResultTTL || old.Attempts != 2 || old.StartedAt == nil ||
		!old.StartedAt.Equal(*rec.StartedAt) {
		t.Errorf("Decode(earlier layout) = %+v, %v; want the same name, queue, options, attempts and start", old, err)
	}

	// enqueue.lua and a first start leave the status out.
	for _, tc := range []struct {
		h    map[string]string
		want results.Status
	}{
		{map[string]string{broker.FieldMeta: "0,0,0,q,x"}, results.StatusQueued},
		{map[string]string{broker.FieldMeta: "0,0,0,q,x", broker.FieldAttempt: "tk,2,1"}, results.StatusRunning},
		{map[string]string{broker.FieldMeta: "0,0,0,q,x", broker.FieldAttempt: ",2,1", broker.FieldStatus: "queued"}, results.StatusQueued},
	} {
		if r, err := results.Decode(testID, tc.h); err != nil || r.Status != tc.want {
			t.Errorf("Decode(%v) = status %q, %v; want %q", tc.h, r.Status, err, tc.want)
		}
	}

	minimal, err := results.Decode(testID, map[string]string{broker.FieldStatus: "queued", broker.FieldCreated: "1"})
	if err != nil || string(minimal.Payload) != "null" || minimal.StartedAt != nil || minimal.Result != nil {
		t.Errorf("Decode(minimal) = %+v, %v; want null payload and no start, result", minimal, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    map[string]string
		want error
	}{
		{"empty", map[string]string{}, results.ErrNotFound},
		{"nil", nil, results.ErrNotFound},
		{"unknown status", map[string]string{broker.FieldStatus: "exploded"}, results.ErrCorrupt},
		{"no status, no meta", map[string]string{broker.FieldCreated: "1", broker.FieldPayload: "1"}, results.ErrCorrupt},
		{"bad attempts", map[string]string{broker.FieldStatus: "queued", broker.FieldAttempt: "tk,1,two"}, results.ErrCorrupt},
		{"huge attempts", map[string]string{broker.FieldStatus: "queued", broker.FieldAttempt: "tk,1,99999999999999"}, results.ErrCorrupt},
		{"short attempt", map[string]string{broker.FieldStatus: "queued", broker.FieldAttempt: "tk,1"}, results.ErrCorrupt},
		{"bad start", map[string]string{broker.FieldStatus: "queued", broker.FieldAttempt: "tk,soon,1"}, results.ErrCorrupt},
		{"bad old attempts", map[string]string{broker.FieldStatus: "queued", "a": "two"}, results.ErrCorrupt},
		{"bad old start", map[string]string{broker.FieldStatus: "queued", "a": "1", "st": "soon"}, results.ErrCorrupt},
		{"bad time", map[string]string{broker.FieldStatus: "queued", broker.FieldCreated: "yesterday"}, results.ErrCorrupt},
		{"bad payload", map[string]string{broker.FieldStatus: "queued", broker.FieldPayload: "{"}, results.ErrCorrupt},
		{"bad result", map[string]string{broker.FieldStatus: "succeeded", broker.FieldResult: "nope"}, results.ErrCorrupt},
		{"two options", map[string]string{broker.FieldStatus: "queued", broker.FieldMeta: "3,30000"}, results.ErrCorrupt},
		{"no name", map[string]string{broker.FieldStatus: "queued", broker.FieldMeta: "3,30000,1,q"}, results.ErrCorrupt},
		{"bad options", map[string]string{broker.FieldStatus: "queued", broker.FieldMeta: "3,soon,1,q,x"}, results.ErrCorrupt},
		{"huge retries", map[string]string{broker.FieldStatus: "queued", broker.FieldMeta: "99999999999,1,1,q,x"}, results.ErrCorrupt},
		{"bad old options", map[string]string{broker.FieldStatus: "queued", "o": "3,soon,1"}, results.ErrCorrupt},
	}
	for _, tt := range tests {
		if _, err := results.Decode(testID, tt.h); !errors.Is(err, tt.want) {
			t.Errorf("Decode(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// FuzzDecode checks that no hash content panics Decode, and that whatever
// decodes renders as valid JSON.
func FuzzDecode(f *testing.F) {
	f.Add("queued", `{"a":1}`, "", "1", "1700000000000", "")
	f.Add("succeeded", `null`, `"ok"`, "3", "0", "5")
	f.Add("failed", `[`, `x`, "-1", "-99", "abc")
	f.Add("running", "\xff", "\x00", "9223372036854775807", "9223372036854775807", "1e3")
	f.Add("queued", `1`, "", "tk,1700000000100,2", "1700000000000", "3,30000,3600000,default,a,b")
	f.Add("running", `1`, "", ",0,1", "1", "0,0,0,,")
	f.Fuzz(func(t *testing.T, status, payload, result, attempts, created, meta string) {
		h := map[string]string{broker.FieldStatus: status, broker.FieldPayload: payload, broker.FieldResult: result,
			broker.FieldAttempt: attempts, broker.FieldCreated: created, broker.FieldMeta: meta}
		rec, err := results.Decode(testID, h)
		if err != nil {
			if !errors.Is(err, results.ErrCorrupt) {
				t.Fatalf("Decode error %v is not ErrCorrupt", err)
			}
			return
		}
		out, err := json.Marshal(rec)
		if err != nil || !json.Valid(out) {
			t.Fatalf("decoded record does not render: %v", err)
		}
	})
}

func TestDurationJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{`"30s"`, 30 * time.Second, true},
		{`"1m30s"`, 90 * time.Second, true},
		{`"0s"`, 0, true},
		{`"-5s"`, 0, false},
		{`"abc"`, 0, false},
		{`5`, 0, false},
		{`null`, 0, true},
		{`"9999999999h"`, 0, false},
	} {
		var d results.Duration
		err := json.Unmarshal([]byte(tt.in), &d)
		if (err == nil) != tt.ok || time.Duration(d) != tt.want {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v, ok=%v", tt.in, time.Duration(d), err, tt.want, tt.ok)
		}
	}
}

func TestStatusTerminal(t *testing.T) {
	t.Parallel()
	for s, want := range map[results.Status]bool{
		results.StatusQueued: false, results.StatusRunning: false, results.StatusRetrying: false,
		results.StatusSucceeded: true, results.StatusFailed: true, results.StatusCanceled: true,
	} {
		if s.Terminal() != want || !s.Valid() {
			t.Errorf("%s: Terminal() = %v, want %v; Valid() = %v", s, s.Terminal(), want, s.Valid())
		}
	}
	if results.Status("nope").Valid() {
		t.Error(`Status("nope").Valid() = true`)
	}
}
