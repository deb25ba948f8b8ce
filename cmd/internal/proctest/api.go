package proctest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// HTTPClient is the client of every helper here; tests use it for requests
// of their own, so that none can hang past its 30s timeout.
var HTTPClient = &http.Client{Timeout: 30 * time.Second}

// Submit posts a task to the API at base and returns the record of the 202
// answer; any other status fails the test.
func Submit(t *testing.T, base, name string, payload any) results.Record {
	t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(tasks.Request{Name: name, Payload: raw})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := HTTPClient.Post(base+"/v1/tasks", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST /v1/tasks %s: %v", body, err)
	}
	return decodeRecord(t, resp, http.StatusAccepted)
}

// WaitDone gets a task's record, waiting up to 10s for it to finish.
func WaitDone(t *testing.T, base, id string) results.Record {
	t.Helper()
	return Get(t, base, id+"?wait=10s")
}

// Get gets the record at /v1/tasks/{idQuery}; a status other than 200 fails
// the test.
func Get(t *testing.T, base, idQuery string) results.Record {
	t.Helper()
	resp, err := HTTPClient.Get(base + "/v1/tasks/" + idQuery)
	if err != nil {
		t.Fatalf("GET /v1/tasks/%s: %v", idQuery, err)
	}
	return decodeRecord(t, resp, http.StatusOK)
}

// WaitStatus polls a task every 20ms until it has status want, failing the
// test if it has not after timeout.
func WaitStatus(t *testing.T, base, id string, want results.Status, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		rec := Get(t, base, id)
		if rec.Status == want {
			return
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("task %s: status %s after %s, want %s", id, rec.Status, timeout, want)
		}
	}
}

// decodeRecord reads resp's body as a record, failing the test if the
// status is not want or the body does not decode.
func decodeRecord(t *testing.T, resp *http.Response, want int) results.Record {
	t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", resp.Request.Method, resp.Request.URL.Path, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d (%s), want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, raw, want)
	}
	var rec results.Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatalf("%s %s: body %s: %v", resp.Request.Method, resp.Request.URL.Path, raw, err)
	}
	return rec
}

// CheckOutcome checks a finished task: with wantErr, failed at its first
// attempt with an error containing wantErr; else succeeded at its first
// attempt with a result that decodes to want (see DecodeAs).
func CheckOutcome(t *testing.T, rec results.Record, want any, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if rec.Status != results.StatusFailed || rec.Attempts != 1 || !strings.Contains(rec.Error, wantErr) {
			t.Errorf("task %s: status, attempts, error = %s, %d, %q, want %s, 1, containing %q",
				rec.Name, rec.Status, rec.Attempts, rec.Error, results.StatusFailed, wantErr)
		}
		return
	}
	if rec.Status != results.StatusSucceeded || rec.Attempts != 1 {
		t.Fatalf("task %s: status, attempts = %s, %d (error %q), want %s, 1",
			rec.Name, rec.Status, rec.Attempts, rec.Error, results.StatusSucceeded)
	}
	if got := DecodeAs(t, rec.Result, want); !reflect.DeepEqual(got, want) {
		t.Errorf("task %s: result = %#v, want %#v", rec.Name, got, want)
	}
}

// DecodeAs decodes raw into a new value of like's type (any for a nil
// like), failing the test if it does not decode.
func DecodeAs(t *testing.T, raw json.RawMessage, like any) any {
	t.Helper()
	v := reflect.New(reflect.TypeOf(&like).Elem())
	if like != nil {
		v = reflect.New(reflect.TypeOf(like))
	}
	if err := json.Unmarshal(raw, v.Interface()); err != nil {
		t.Fatalf("result %s does not decode as %T: %v", raw, like, err)
	}
	return v.Elem().Interface()
}
