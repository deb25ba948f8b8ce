package broker

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/runq/runq/broker/internal/layout"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// TestTakeIsIdempotent resends take.lua with the same token, as go-redis
// does after a dropped connection: the same IDs come back and no second
// batch is leased.
func TestTakeIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx, rdb, b := withQueued(t, 4)
	keys := b.takeKeys(&Taken{Queue: "q", Token: "tok"})
	first, err := runTake(ctx, rdb, keys, 2, ms(time.Minute), "tok", "0")
	if err != nil || len(first) != 2 {
		t.Fatalf("take = %v, %v; want 2 IDs", first, err)
	}
	again, err := runTake(ctx, rdb, keys, 2, ms(time.Minute), "tok", "1")
	slices.Sort(again)
	if err != nil || fmt.Sprint(again) != fmt.Sprint(sorted(first)) {
		t.Fatalf("resent take = %v, %v; want the same %v", again, err, first)
	}
	if n := rdb.LLen(ctx, b.keys.Pending("q")).Val(); n != 2 {
		t.Fatalf("pending after a resent take = %d, want 2", n)
	}
	if n := rdb.ZCard(ctx, b.keys.Leases("q")).Val(); n != 1 {
		t.Fatalf("leases after a resent take = %d, want 1 for the batch", n)
	}
	claimed, _, err := b.StartTake(ctx, &Taken{Queue: "q", Token: "tok", IDs: first}, 0, time.Minute)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("start = %d, %v; want 2", len(claimed), err)
	}
	if n := rdb.SCard(ctx, b.keys.LeaseTasks("q", "tok")).Val(); n != 2 {
		t.Errorf("lease set after start holds %d IDs, want 2", n)
	}
	resent, _, err := b.StartTake(ctx, &Taken{Queue: "q", Token: "tok", IDs: first}, 0, time.Minute)
	if err != nil || len(resent) != 2 || resent[0].Attempts != 1 {
		t.Errorf("resent start = %+v, %v; want the same 2 tasks at attempt 1", resent, err)
	}
}

// TestStartTakeIsIdempotent resends one round trip of StartTake, as its
// retries do after an error: the same tasks start once, at attempt 1, and
// the same batch is taken ahead.
func TestStartTakeIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx, _, b := withQueued(t, 4)
	_, first, err := b.Take(ctx, "q", 2, time.Minute, "")
	if err != nil || first == nil {
		t.Fatalf("Take = %v, %v", first, err)
	}
	if err := loadScripts(ctx, b.rdb, startScript, takeScript); err != nil {
		t.Fatal(err)
	}
	next := &Taken{Queue: "q", Token: "next"}
	var took []string
	for try := range 2 {
		got, ids, _, _, err := b.startTake(ctx, first, next, 5, time.Minute, try > 0)
		if err != nil || len(got) != 2 || got[0].Attempts != 1 || got[1].Attempts != 1 {
			t.Fatalf("startTake try %d = %+v, %v; want the first 2 tasks at attempt 1", try, got, err)
		}
		if len(ids) != 2 || (took != nil && fmt.Sprint(sorted(ids)) != fmt.Sprint(sorted(took))) {
			t.Fatalf("startTake try %d took %v, want the other 2 (first try: %v)", try, ids, took)
		}
		took = ids
	}
}

// withQueued returns a broker on a miniredis of t's own, with n tasks
// queued in "q", for tests that call the scripts directly.
func withQueued(t *testing.T, n int) (context.Context, *redis.Client, *Broker) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	b := New(rdb, "t")
	for i := range n {
		if _, err := b.Enqueue(ctx, []NewTask{{Name: fmt.Sprint("n", i), Queue: "q", Payload: []byte("1")}}); err != nil {
			t.Fatal(err)
		}
	}
	return ctx, rdb, b
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestReapLeaseOfStartedAndUnstarted lets a lease expire whose batch was
// taken but only partly started, as when a worker dies between take.lua
// and start.lua's retries: the started task counts a crash, the other goes
// back as it was, and the lease goes.
func TestReapLeaseOfStartedAndUnstarted(t *testing.T) {
	t.Parallel()
	ctx, rdb, b := withQueued(t, 2)
	keys := b.takeKeys(&Taken{Queue: "q", Token: "tok"})
	ids, err := runTake(ctx, rdb, keys, 2, "100", "tok", "0") // a lease of 100 ms
	if err != nil || len(ids) != 2 {
		t.Fatalf("take = %v, %v; want 2 IDs", ids, err)
	}
	if _, _, err := b.StartTake(ctx, &Taken{Queue: "q", Token: "tok", IDs: ids[:1]}, 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	var m Maintained
	for deadline := time.Now().Add(5 * time.Second); m.Leases == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // the lease expires on the real clock
		if m, err = b.Maintain(ctx, "q", 3); err != nil {
			t.Fatal(err)
		}
	}
	if m.Leases != 1 || m.Requeued != 2 || m.Poisoned != 0 {
		t.Fatalf("Maintain = %+v, want 1 lease and 2 tasks requeued", m)
	}
	if n := rdb.ZCard(ctx, b.keys.Leases("q")).Val(); n != 0 || rdb.Exists(ctx, keys[2]).Val() != 0 {
		t.Fatalf("after Maintain: %d leases, set exists %d; want none", n, rdb.Exists(ctx, keys[2]).Val())
	}
	_, taken, err := b.Take(ctx, "q", 2, time.Minute, "")
	if err != nil || taken == nil {
		t.Fatalf("Take after Maintain = %v, %v; want both tasks", taken, err)
	}
	again, _, err := b.StartTake(ctx, taken, 0, time.Minute)
	if err != nil || len(again) != 2 {
		t.Fatalf("StartTake after Maintain = %d, %v; want both tasks", len(again), err)
	}
	for _, c := range again {
		started := layout.IDText(c.ID) == ids[0]
		if wantCrashes := map[bool]int{true: 1, false: 0}[started]; c.Crashes != wantCrashes || c.Attempts != 1+wantCrashes {
			t.Errorf("redelivered %s (started before: %v): crashes %d attempts %d, want %d and %d",
				c.ID, started, c.Crashes, c.Attempts, wantCrashes, 1+wantCrashes)
		}
	}
}

// TestMetaAndAttemptRoundTrip checks that the meta and attempt fields
// read back what they were written from (a name may hold commas; it comes
// last), and refuse what the scripts never write.
func TestMetaAndAttemptRoundTrip(t *testing.T) {
	t.Parallel()
	for _, m := range []meta{
		{},
		{maxRetries: 3, timeout: time.Minute, resultTTL: time.Hour, queue: "default", name: "email.send"},
		{maxRetries: 1 << 30, timeout: time.Millisecond, queue: "q", name: "odd,name,with,commas"},
		{maxRetries: -1, timeout: 100 * time.Millisecond, resultTTL: 1000 * time.Millisecond, queue: "q", name: "n"},
		{timeout: 1234500 * time.Millisecond, resultTTL: time.Duration(math.MaxInt64/int64(time.Millisecond)) * time.Millisecond, queue: "q", name: "n"},
		{timeout: 1e18 * time.Nanosecond, resultTTL: 9e18 * time.Nanosecond, queue: "q", name: "n"},
		{maxRetries: metaMaxRetries, timeout: metaTimeout, resultTTL: metaResultTTL, queue: "q", name: "n"},
		{maxRetries: metaMaxRetries, timeout: 2 * metaTimeout, resultTTL: metaResultTTL, queue: "q", name: "n"},
		{timeout: metaTimeout, resultTTL: metaResultTTL + time.Millisecond, queue: "q", name: "n"},
	} {
		got, err := parseMeta(m.String())
		if err != nil || got != m {
			t.Errorf("parseMeta(%q) = %+v, %v; want %+v", m.String(), got, err, m)
		}
	}
	// The durations are written short where that saves bytes, and only there.
	for ms, want := range map[int64]string{0: "0", 7: "7", 10: "10", 100: "100", 1000: "1e3",
		30000: "3e4", 1800000: "18e5", 86400000: "864e5", 1234500: "1234500", 120500: "120500"} {
		if got := string(appendMillis(nil, ms)); got != want {
			t.Errorf("appendMillis(%d) = %q, want %q", ms, got, want)
		}
	}
	// The default options are written as nothing, and read back as
	// themselves.
	if m := (meta{maxRetries: 3, timeout: 30 * time.Minute, resultTTL: 24 * time.Hour, queue: "default", name: "email.send"}).String(); m != ",,,default,email.send" {
		t.Errorf("meta of the default options = %q", m)
	}
	if m := (meta{maxRetries: 5, timeout: time.Minute, resultTTL: time.Hour, queue: "default", name: "email.send"}).String(); m != "5,6e4,36e5,default,email.send" {
		t.Errorf("meta of other options = %q", m)
	}
	if m, err := parseMeta("0,,1,q,n"); err != nil || m.maxRetries != 0 || m.timeout != 30*time.Minute || m.resultTTL != time.Millisecond {
		t.Errorf(`parseMeta("0,,1,q,n") = %+v, %v`, m, err)
	}
	for _, bad := range []string{"", "1,2,3", "1,2,3,q", "x,2,3,q,n", "1,2,3 ,q,n", "1, ,3,q,n", "99999999999,1,1,q,n",
		"1e3,1,1,q,n", "1,1e,1,q,n", "1,e3,1,q,n", "1,1e0,1,q,n", "1,1e+3,1,q,n", "1,1e19,1,q,n", "1,99e17,1,q,n", "1,1e3x,1,q,n", "1,1.5e3,1,q,n"} {
		if _, err := parseMeta(bad); err == nil {
			t.Errorf("parseMeta(%q) = nil error, want one", bad)
		}
	}
	if got := metaName("3,soon,1,q,odd,name"); got != "odd,name" {
		t.Errorf("metaName of a malformed meta = %q, want its name", got)
	}
	at, err := parseAttempt("tok,1700000000123,7")
	if err != nil || at.token != "tok" || at.number != 7 || !at.started.Equal(time.UnixMilli(1700000000123)) {
		t.Errorf("parseAttempt = %+v, %v", at, err)
	}
	if at, err := parseAttempt(",1700000000123,2"); err != nil || at.token != "" || at.number != 2 {
		t.Errorf("parseAttempt of a reaped attempt = %+v, %v; want no token, number 2", at, err)
	}
	for _, bad := range []string{"", "tok", "tok,1", "tok,soon,1", "tok,1,x", "tok,1,99999999999"} {
		if _, err := parseAttempt(bad); err == nil {
			t.Errorf("parseAttempt(%q) = nil error, want one", bad)
		}
	}
}

// TestTakeOfNoneLeasesNothing asks take.lua for 0 tasks, which the pool
// never does: no lease may be written without its set.
func TestTakeOfNoneLeasesNothing(t *testing.T) {
	t.Parallel()
	ctx, rdb, b := withQueued(t, 1)
	keys := b.takeKeys(&Taken{Queue: "q", Token: "tok"})
	ids, err := runTake(ctx, rdb, keys, 0, ms(time.Minute), "tok", "0")
	if err != nil || len(ids) != 0 {
		t.Fatalf("take of 0 = %v, %v; want nothing", ids, err)
	}
	if n := rdb.ZCard(ctx, keys[1]).Val(); n != 0 {
		t.Errorf("take of 0 left %d leases", n)
	}
	if claimed, got, err := b.Take(ctx, "q", 0, time.Minute, ""); err != nil || got != nil || claimed != nil {
		t.Errorf("Take(0) = %v, %v, %v; want nothing", claimed, got, err)
	}
}

// runTake runs take.lua with no head and returns the IDs it leased.
func runTake(ctx context.Context, rdb *redis.Client, keys []string, n int, leaseMs, token, resend string) ([]string, error) {
	reply, err := takeScript.Run(ctx, rdb, keys, n, leaseMs, token, resend).Slice()
	if err != nil {
		return nil, err
	}
	ids, start, _, _, err := takeReply(reply)
	if err == nil && start != nil {
		err = fmt.Errorf("take.lua started a head it was not given: %v", start)
	}
	return ids, err
}

// TestResentStartSkipsTasksItDropped resends a start whose first send held
// a task for its name's cap; the task was handed on since (its slot
// freed), so the resend must not start it under this lease.
func TestResentStartSkipsTasksItDropped(t *testing.T) {
	t.Parallel()
	ctx, _, b := withQueued(t, 0)
	if err := b.SetLimits(ctx, "q", map[string]NameLimit{"render": {MaxRunning: 1}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"render", "render", "echo"} { // the echo keeps the lease held
		if _, err := b.Enqueue(ctx, []NewTask{{Name: name, Queue: "q", Payload: []byte("1")}}); err != nil {
			t.Fatal(err)
		}
	}
	_, taken, err := b.Take(ctx, "q", 3, time.Minute, "")
	if err != nil || taken == nil || !taken.limited {
		t.Fatalf("Take = %+v, %v; want 3 tasks of a queue with limits", taken, err)
	}
	if err := loadScripts(ctx, b.rdb, startScript); err != nil {
		t.Fatal(err)
	}
	first, _, _, _, err := b.startTake(ctx, taken, nil, 0, time.Minute, false)
	if err != nil || len(first) != 2 || !first[0].slot || first[1].slot {
		t.Fatalf("start = %+v, %v; want the first render, holding a slot, and the echo", first, err)
	}
	if errs, err := b.Finish(ctx, []Finish{{Claimed: &first[0], Outcome: Succeeded, Result: []byte("1")}}); err != nil || errs[0] != nil {
		t.Fatalf("Finish = %v, %v", errs, err)
	}
	again, _, _, _, err := b.startTake(ctx, taken, nil, 0, time.Minute, true)
	if err != nil || len(again) != 1 || again[0].Name != "echo" {
		t.Errorf("resent start = %+v, %v; want the echo alone: the render started has finished, the other was dropped", again, err)
	}
}
