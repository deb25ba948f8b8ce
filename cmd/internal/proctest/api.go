package proctest

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/api/client"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// HTTPClient is the HTTP client of every helper here; tests use it for
// requests of their own, so that none can hang past its 30s timeout.
var HTTPClient = &http.Client{Timeout: 30 * time.Second}

// Client returns a client of the API at base, failing the test if base is
// not a URL.
func Client(t testing.TB, base string) *client.Client {
	t.Helper()
	c, err := client.New(base, client.Config{HTTPClient: HTTPClient, MaxWait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Submit submits a task to the API at base, payload encoded as JSON, and
// returns its record; an error fails the test.
func Submit(t testing.TB, base, name string, payload any) results.Record {
	t.Helper()
	rec, err := tasks.Submit(context.Background(), Client(t, base), name, payload)
	if err != nil {
		t.Fatalf("submit %s: %v", name, err)
	}
	return rec
}

// WaitDone returns the record of task id once it has finished, failing the
// test after 10s.
func WaitDone(t testing.TB, base string, id uuid.UUID) results.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec, err := Client(t, base).Wait(ctx, id)
	if err != nil {
		t.Fatalf("wait for %s: %v (record %+v)", id, err, rec)
	}
	return rec
}

// Get returns the record of task id; an error fails the test.
func Get(t testing.TB, base string, id uuid.UUID) results.Record {
	t.Helper()
	rec, err := Client(t, base).Get(context.Background(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return rec
}

// WaitStatus polls a task every 20ms until it has status want, failing the
// test if it has not after timeout.
func WaitStatus(t testing.TB, base string, id uuid.UUID, want results.Status, timeout time.Duration) {
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
