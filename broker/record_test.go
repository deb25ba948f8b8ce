package broker

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runq/runq/broker/internal/layout"

	"github.com/google/uuid"

	"github.com/runq/runq/results"
)

var testID = uuid.MustParse("0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77")

func TestDecodeRecord(t *testing.T) {
	t.Parallel()
	full := map[string]string{
		layout.FieldMeta: "3,30000,3600000,default,echo", layout.FieldStatus: "succeeded", layout.FieldPayload: `{"a":1}`,
		layout.FieldResult: `[1,2]`, layout.FieldAttempt: "abc,1700000000100,2", layout.FieldCreated: createdField(testID, 1700000000000),
		layout.FieldFinished: "1700000000200", layout.FieldCrashes: "1", layout.FieldFailures: "1",
	}
	rec, err := decodeRecord(testID, full)
	if err != nil {
		t.Fatalf("decodeRecord(full) = %v", err)
	}
	created := time.UnixMilli(1700000000000).UTC()
	if rec.ID != testID || rec.Name != "echo" || rec.Queue != "default" || rec.Status != results.StatusSucceeded ||
		string(rec.Payload) != `{"a":1}` || string(rec.Result) != `[1,2]` || rec.Attempts != 2 || rec.MaxRetries != 3 ||
		rec.Timeout != 30*time.Second || rec.ResultTTL != time.Hour || rec.Crashes != 1 ||
		!rec.CreatedAt.Equal(created) || rec.StartedAt.Sub(created) != 100*time.Millisecond ||
		rec.FinishedAt.Sub(created) != 200*time.Millisecond {
		t.Fatalf("decodeRecord(full) = %+v", rec)
	}

	// enqueue.lua and a first start leave the status out.
	for _, tc := range []struct {
		h    map[string]string
		want results.Status
	}{
		{map[string]string{layout.FieldMeta: "0,0,0,q,x"}, results.StatusQueued},
		{map[string]string{layout.FieldMeta: "0,0,0,q,x", layout.FieldAttempt: "tk,2,1"}, results.StatusRunning},
		{map[string]string{layout.FieldMeta: "0,0,0,q,x", layout.FieldAttempt: ",2,1", layout.FieldStatus: "queued"}, results.StatusQueued},
	} {
		if r, err := decodeRecord(testID, tc.h); err != nil || r.Status != tc.want {
			t.Errorf("decodeRecord(%v) = status %q, %v; want %q", tc.h, r.Status, err, tc.want)
		}
	}

	scheduled, err := decodeRecord(testID, map[string]string{layout.FieldMeta: "0,0,0,q,x", layout.FieldStatus: "scheduled",
		layout.FieldCreated: createdField(testID, 1700000000000), layout.FieldRunAt: "1700000090000"})
	if err != nil || scheduled.Status != results.StatusScheduled || scheduled.RunAt.Sub(created) != 90*time.Second {
		t.Errorf("decodeRecord(scheduled) = %+v, %v; want scheduled, run_at 90s after creation", scheduled, err)
	}

	minimal, err := decodeRecord(testID, map[string]string{layout.FieldMeta: "0,1000,1000,q,x", layout.FieldCreated: "1"})
	if err != nil || string(minimal.Payload) != "null" || !minimal.StartedAt.IsZero() || minimal.Result != nil {
		t.Errorf("decodeRecord(minimal) = %+v, %v; want null payload and no start, result", minimal, err)
	}
}

func TestDecodeRecordErrors(t *testing.T) {
	t.Parallel()
	const m = "3,30000,1,q,x"
	tests := []struct {
		name string
		h    map[string]string
		want error
	}{
		{"empty", map[string]string{}, results.ErrNotFound},
		{"nil", nil, results.ErrNotFound},
		{"unknown status", map[string]string{layout.FieldMeta: m, layout.FieldStatus: "exploded"}, results.ErrCorrupt},
		{"no meta", map[string]string{layout.FieldStatus: "queued", layout.FieldCreated: "1"}, results.ErrCorrupt},
		{"no status, no meta", map[string]string{layout.FieldCreated: "1", layout.FieldPayload: "1"}, results.ErrCorrupt},
		{"bad attempts", map[string]string{layout.FieldMeta: m, layout.FieldAttempt: "tk,1,two"}, results.ErrCorrupt},
		{"huge attempts", map[string]string{layout.FieldMeta: m, layout.FieldAttempt: "tk,1,99999999999999"}, results.ErrCorrupt},
		{"short attempt", map[string]string{layout.FieldMeta: m, layout.FieldAttempt: "tk,1"}, results.ErrCorrupt},
		{"bad start", map[string]string{layout.FieldMeta: m, layout.FieldAttempt: "tk,soon,1"}, results.ErrCorrupt},
		{"start past year 9999", map[string]string{layout.FieldMeta: m, layout.FieldAttempt: "tk,700000000000000,1"}, results.ErrCorrupt},
		{"bad time", map[string]string{layout.FieldMeta: m, layout.FieldCreated: "yesterday"}, results.ErrCorrupt},
		{"bad run_at", map[string]string{layout.FieldMeta: m, layout.FieldStatus: "scheduled", layout.FieldRunAt: "soon"}, results.ErrCorrupt},
		{"bad crashes", map[string]string{layout.FieldMeta: m, layout.FieldCrashes: "99999999999"}, results.ErrCorrupt},
		{"bad payload", map[string]string{layout.FieldMeta: m, layout.FieldPayload: "{"}, results.ErrCorrupt},
		{"bad result", map[string]string{layout.FieldMeta: m, layout.FieldStatus: "succeeded", layout.FieldResult: "nope"}, results.ErrCorrupt},
		{"two options", map[string]string{layout.FieldMeta: "3,30000"}, results.ErrCorrupt},
		{"no name", map[string]string{layout.FieldMeta: "3,30000,1,q"}, results.ErrCorrupt},
		{"bad options", map[string]string{layout.FieldMeta: "3,soon,1,q,x"}, results.ErrCorrupt},
		{"huge retries", map[string]string{layout.FieldMeta: "99999999999,1,1,q,x"}, results.ErrCorrupt},
	}
	for _, tt := range tests {
		if _, err := decodeRecord(testID, tt.h); !errors.Is(err, tt.want) {
			t.Errorf("decodeRecord(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// FuzzDecodeRecord checks that no hash content panics decodeRecord, that
// whatever decodes renders as valid JSON, and that the rendering has no
// field for the lease token the attempt field holds. An empty argument is a
// field the hash lacks. The seeds from decodable decode; the others do not.
func FuzzDecodeRecord(f *testing.F) {
	for _, h := range decodable {
		f.Add(h[layout.FieldStatus], h[layout.FieldPayload], h[layout.FieldResult], h[layout.FieldAttempt], h[layout.FieldCreated], h[layout.FieldMeta])
	}
	f.Add("failed", `[`, `x`, "-1", "-99", "abc")
	f.Add("running", "\xff", "\x00", "9223372036854775807", "9223372036854775807", "1e3")
	f.Add("queued", `1`, "", "tk,1700000000100,2", "1700000000000", "3,30000,3600000,default,a,b")
	f.Add("running", `1`, "", ",0,1", "1", "0,0,0,,")
	f.Fuzz(func(t *testing.T, status, payload, result, attempt, created, meta string) {
		h := make(map[string]string)
		for field, v := range map[string]string{layout.FieldStatus: status, layout.FieldPayload: payload,
			layout.FieldResult: result, layout.FieldAttempt: attempt, layout.FieldCreated: created, layout.FieldMeta: meta} {
			if v != "" {
				h[field] = v
			}
		}
		rec, err := decodeRecord(testID, h)
		if err != nil {
			if !errors.Is(err, results.ErrCorrupt) && !errors.Is(err, results.ErrNotFound) {
				t.Fatalf("decodeRecord error %v is neither ErrCorrupt nor ErrNotFound", err)
			}
			return
		}
		out, err := json.Marshal(rec)
		if err != nil || !json.Valid(out) {
			t.Fatalf("decoded record does not render: %v", err)
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(out, &fields); err != nil {
			t.Fatal(err)
		}
		for name := range fields {
			if strings.Contains(name, "token") || strings.Contains(name, "lease") {
				t.Fatalf("JSON %s has a field %q for the lease", out, name)
			}
		}
	})
}

// decodable are hashes that decode, FuzzDecodeRecord's first seeds.
var decodable = []map[string]string{
	{layout.FieldStatus: "queued", layout.FieldPayload: `{"a":1}`, layout.FieldCreated: createdField(testID, 1700000000000), layout.FieldMeta: "3,30000,3600000,default,greet"},
	{layout.FieldStatus: "succeeded", layout.FieldPayload: `null`, layout.FieldResult: `"ok"`, layout.FieldAttempt: "tk7f3a,1700000000100,1",
		layout.FieldCreated: createdField(testID, 1700000000000), layout.FieldMeta: "-1,1000,1000,q,x"},
	{layout.FieldStatus: "running", layout.FieldPayload: `[1,2]`, layout.FieldAttempt: "tk7f3a,1700000000100,2",
		layout.FieldCreated: createdField(testID, 1700000000000), layout.FieldMeta: "0,0,0,q,x"},
}

// TestFuzzDecodeRecordSeedsDecode keeps FuzzDecodeRecord's first seeds
// decodable, so that plain go test reaches its rendering checks.
func TestFuzzDecodeRecordSeedsDecode(t *testing.T) {
	t.Parallel()
	for _, h := range decodable {
		if _, err := decodeRecord(testID, h); err != nil {
			t.Errorf("decodeRecord(%v) = %v, want a record", h, err)
		}
	}
}

// createdField returns the created field of task id created at ms (Unix
// time): what the scripts write (see layout.FieldCreated).
func createdField(id uuid.UUID, ms int64) string {
	return strconv.FormatInt(ms-layout.IDMillis(id), 10)
}
