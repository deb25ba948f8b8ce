package tasks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// TestLargePayloadsArePackedAndRoundTrip runs echo on a 4 KiB payload: it
// is stored deflated (its hash field is shorter and opens with the mark),
// and the handler, Get and Wait see the JSON that was sent, as result too.
func TestLargePayloadsArePackedAndRoundTrip(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		payload, _ := json.Marshal(map[string]string{"text": strings.Repeat("the quick brown fox jumps over the lazy dog ", 100)})
		s.register(t)
		id := s.submit(t, tasks.Request{Name: "echo", Payload: payload})
		key := redistest.Layout(s.be.Prefix).Task(id)
		stored, err := redistest.StoredValue(context.Background(), s.be.Client, key, redistest.FieldPayload)
		if err != nil || len(stored) >= len(payload)/2 || stored[0] != 0 {
			t.Fatalf("stored payload = %d bytes (first %q), %v; want it packed, under half of %d", len(stored), stored[:1], err, len(payload))
		}
		if rec := s.get(t, id); !bytes.Equal(rec.Payload, payload) {
			t.Fatalf("Get payload = %d bytes, want the %d sent", len(rec.Payload), len(payload))
		}
		s.startPool(t, tasks.PoolConfig{Concurrency: 2})
		rec := s.wait(t, id)
		if rec.Status != results.StatusSucceeded || !bytes.Equal(rec.Result, payload) {
			t.Fatalf("Wait = %s with a %d-byte result, want succeeded echoing the %d bytes", rec.Status, len(rec.Result), len(payload))
		}
		if stored, err := redistest.StoredValue(context.Background(), s.be.Client, key, redistest.FieldResult); err != nil || len(stored) >= len(payload)/2 || stored[0] != 0 {
			t.Errorf("stored result = %d bytes, %v; want it packed", len(stored), err)
		}
	})
}

// TestUnreadablePayloadFailsWithoutRunning corrupts a packed payload in
// Redis: the attempt fails at once, not retried, and the handler never runs.
func TestUnreadablePayloadFailsWithoutRunning(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.register(t)
		id := s.submit(t, tasks.Request{Name: "echo", Payload: []byte(`{"a":1}`), Options: tasks.Options{MaxRetries: 3}})
		key := redistest.Layout(s.be.Prefix).Task(id)
		if err := s.be.Client.HSet(context.Background(), key, redistest.FieldPayload, "\x00\x09garbage").Err(); err != nil {
			t.Fatal(err)
		}
		s.startPool(t, tasks.PoolConfig{Concurrency: 1})
		// Get refuses the record (its payload is corrupt): read the hash.
		var h map[string]string
		waitUntil(t, func() bool {
			h = s.be.Client.HGetAll(context.Background(), key).Val()
			return h[redistest.FieldStatus] != "" && h[redistest.FieldStatus] != "running"
		})
		e, _ := redistest.StoredValue(context.Background(), s.be.Client, key, "e")
		if h[redistest.FieldStatus] != string(results.StatusFailed) || !strings.HasSuffix(h[redistest.FieldAttempt], ",1") || !strings.Contains(e, "unreadable") {
			t.Errorf("hash = %q; want failed at attempt 1 with an unreadable payload", h)
		}
	})
}
