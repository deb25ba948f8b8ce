package bench

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestPayloads checks the steady rows' stamped payload and the memory rows'
// padded ones: valid JSON of exactly their size.
func TestPayloads(t *testing.T) {
	t.Parallel()
	now := time.Unix(1733170000, 123456789)
	p := stampPayload(now)
	var got struct {
		T int64  `json:"t"`
		P string `json:"p"`
	}
	if err := json.Unmarshal(p, &got); err != nil || len(p) != steadyPayloadBytes || got.T != now.UnixNano() {
		t.Errorf("stampPayload = %s (%d bytes), %v; want %d bytes stamped %d", p, len(p), err, steadyPayloadBytes, now.UnixNano())
	}
	for _, size := range []int{20, 64, 1024, 16384} {
		payloads := recordPayloads(size)
		a, b := payloads(0), payloads(1)
		if len(a) != size || !json.Valid(a) || string(a) == string(b) {
			t.Errorf("recordPayloads(%d) = %d bytes, valid %v, distinct from the next %v", size, len(a), json.Valid(a), string(a) != string(b))
		}
	}
}

// TestProcPidStatCPU reads utime and stime from /proc/<pid>/stat, also
// when the command name holds spaces and parentheses.
func TestProcPidStatCPU(t *testing.T) {
	t.Parallel()
	stat := "4242 (runq (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 25 0 0 20 0 12 0 100 0 0\n"
	if cpu, ok := procPidStatCPU(stat); !ok || cpu != 1750*time.Millisecond {
		t.Errorf("procPidStatCPU = %v, %v; want 1.75s", cpu, ok)
	}
	for _, bad := range []string{"", "4242 (runq) S 1 2", "4242 (runq) S 1 2 3 4 5 6 7 8 9 10 x 0"} {
		if _, ok := procPidStatCPU(bad); ok {
			t.Errorf("procPidStatCPU(%q) read a CPU time", bad)
		}
	}
}

// TestPaced submits on the shared schedule: every task once, none before
// its slot is due, and the first error stops the producers.
func TestPaced(t *testing.T) {
	t.Parallel()
	const n, rate = 40, 400
	var mu sync.Mutex
	var stamps []int64
	record := func(ctx context.Context, p json.RawMessage) error {
		var s stamp
		if err := json.Unmarshal(p, &s); err != nil {
			return err
		}
		mu.Lock()
		stamps = append(stamps, s.T)
		mu.Unlock()
		return nil
	}
	start := time.Now()
	if _, err := paced(context.Background(), record, n, rate, start); err != nil || len(stamps) != n {
		t.Fatalf("paced = %v with %d submissions, want nil with %d", err, len(stamps), n)
	}
	slices.Sort(stamps)
	for k, s := range stamps {
		// The k-th earliest submission is of slot k or later.
		if due := start.Add(time.Duration(k) * time.Second / rate); s < due.UnixNano() {
			t.Errorf("submission %d at %v, before slot %d was due (%v)", k, time.Unix(0, s), k, due)
		}
	}
	boom := errors.New("boom")
	calls := 0
	fail := func(ctx context.Context, p json.RawMessage) error {
		mu.Lock()
		defer mu.Unlock()
		if calls++; calls == 3 {
			return boom
		}
		return nil
	}
	if _, err := paced(context.Background(), fail, n, rate, time.Now()); !errors.Is(err, boom) || calls >= n {
		t.Errorf("paced with a failing submit = %v after %d calls, want boom well before %d", err, calls, n)
	}
}
