package results_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/results"
)

var testID = uuid.MustParse("0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77")

func TestRecordJSON(t *testing.T) {
	t.Parallel()
	created := time.UnixMilli(1700000000000).UTC()
	full := results.Record{
		ID: testID, Name: "echo", Queue: "default", Status: results.StatusSucceeded,
		Payload: json.RawMessage(`{"a":1}`), Result: json.RawMessage(`[1,2]`), Error: "attempt 1: boom",
		Attempts: 2, MaxRetries: 3, Timeout: 30 * time.Second, ResultTTL: time.Hour, Crashes: 1,
		CreatedAt: created, RunAt: created.Add(50 * time.Millisecond),
		StartedAt: created.Add(100 * time.Millisecond), FinishedAt: created.Add(200 * time.Millisecond),
		Replayed: true,
	}
	out, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"id":"0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77","name":"echo","queue":"default","status":"succeeded",` +
		`"payload":{"a":1},"result":[1,2],"error":"attempt 1: boom","attempts":2,"max_retries":3,"timeout":"30s",` +
		`"result_ttl":"1h0m0s","crashes":1,"created_at":"2023-11-14T22:13:20Z",` +
		`"run_at":"2023-11-14T22:13:20.05Z","started_at":"2023-11-14T22:13:20.1Z",` +
		`"finished_at":"2023-11-14T22:13:20.2Z","replayed":true}`
	if string(out) != want {
		t.Errorf("json.Marshal(record) =\n%s\nwant\n%s", out, want)
	}
	var back results.Record
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back.ID != full.ID || back.Timeout != full.Timeout || back.ResultTTL != full.ResultTTL ||
		!back.StartedAt.Equal(full.StartedAt) || !back.RunAt.Equal(full.RunAt) || string(back.Result) != string(full.Result) || back.Status != full.Status {
		t.Errorf("round trip = %+v, want %+v", back, full)
	}

	// What is unset is left out; a missing payload is null.
	queued := results.Record{ID: testID, Name: "x", Queue: "q", Status: results.StatusQueued, CreatedAt: created}
	out, err = json.Marshal(queued)
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"result", "error", "crashes", "run_at", "started_at", "finished_at"} {
		if strings.Contains(string(out), `"`+absent+`"`) {
			t.Errorf("JSON of a queued record %s has %q", out, absent)
		}
	}
	if !strings.Contains(string(out), `"payload":null`) {
		t.Errorf("JSON of a record without payload %s, want payload null", out)
	}
	if err := json.Unmarshal([]byte(`{"timeout":"soon"}`), &back); err == nil {
		t.Error(`Unmarshal of "timeout":"soon" = nil error, want one`)
	}
}

func TestStatusTerminal(t *testing.T) {
	t.Parallel()
	for s, want := range map[results.Status]bool{
		results.StatusScheduled: false, results.StatusQueued: false, results.StatusRunning: false, results.StatusRetrying: false,
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
