package broker

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

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
	first, err := takeScript.Run(ctx, rdb, keys, 2, ms(time.Minute), "tok").StringSlice()
	if err != nil || len(first) != 2 {
		t.Fatalf("take = %v, %v; want 2 IDs", first, err)
	}
	again, err := takeScript.Run(ctx, rdb, keys, 2, ms(time.Minute), "tok").StringSlice()
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
	claimed, err := b.Start(ctx, &Taken{Queue: "q", Token: "tok", IDs: first})
	if err != nil || len(claimed) != 2 {
		t.Fatalf("start = %d, %v; want 2", len(claimed), err)
	}
	if n := rdb.SCard(ctx, b.keys.LeaseTasks("q", "tok")).Val(); n != 2 {
		t.Errorf("lease set after start holds %d IDs, want 2", n)
	}
	resent, err := b.Start(ctx, &Taken{Queue: "q", Token: "tok", IDs: first})
	if err != nil || len(resent) != 2 || resent[0].Attempts != 1 {
		t.Errorf("resent start = %+v, %v; want the same 2 tasks at attempt 1", resent, err)
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
	b := New(rdb, Keys{Prefix: "t"})
	for i := range n {
		id, _ := NewID("q")
		if _, err := b.Enqueue(ctx, NewTask{ID: id, Name: fmt.Sprint("n", i), Queue: "q", Payload: []byte("1")}); err != nil {
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
	ids, err := takeScript.Run(ctx, rdb, keys, 2, 100, "tok").StringSlice() // a lease of 100 ms
	if err != nil || len(ids) != 2 {
		t.Fatalf("take = %v, %v; want 2 IDs", ids, err)
	}
	if _, err := b.Start(ctx, &Taken{Queue: "q", Token: "tok", IDs: ids[:1]}); err != nil {
		t.Fatal(err)
	}
	var r Reaped
	for deadline := time.Now().Add(5 * time.Second); r.Leases == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // the lease expires on the real clock
		if r, err = b.Reap(ctx, "q", 10, 3); err != nil {
			t.Fatal(err)
		}
	}
	if r != (Reaped{Leases: 1, Requeued: 2}) {
		t.Fatalf("Reap = %+v, want 1 lease and 2 tasks requeued", r)
	}
	if n := rdb.ZCard(ctx, b.keys.Leases("q")).Val(); n != 0 || rdb.Exists(ctx, keys[2]).Val() != 0 {
		t.Fatalf("after Reap: %d leases, set exists %d; want none", n, rdb.Exists(ctx, keys[2]).Val())
	}
	again, err := b.Claim(ctx, "q", 2, time.Minute)
	if err != nil || len(again) != 2 {
		t.Fatalf("Claim after Reap = %d, %v; want both tasks", len(again), err)
	}
	for _, c := range again {
		started := IDText(c.ID) == ids[0]
		if wantCrashes := map[bool]int{true: 1, false: 0}[started]; c.Crashes != wantCrashes || c.Attempts != 1+wantCrashes {
			t.Errorf("redelivered %s (started before: %v): crashes %d attempts %d, want %d and %d",
				c.ID, started, c.Crashes, c.Attempts, wantCrashes, 1+wantCrashes)
		}
	}
}

// TestOptionsRoundTrip checks that options read back what they were
// written from, and refuses what enqueue.lua never writes.
func TestOptionsRoundTrip(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{{}, {MaxRetries: 3, Timeout: 30 * time.Minute, ResultTTL: 24 * time.Hour}, {MaxRetries: 1 << 30, Timeout: time.Millisecond}} {
		got, err := ParseOptions(o.String())
		if err != nil || got != o {
			t.Errorf("ParseOptions(%q) = %+v, %v; want %+v", o.String(), got, err, o)
		}
	}
	for _, bad := range []string{"", "1,2", "1,2,3,4", "a,2,3", "1,,3", "1,2,3 ", "99999999999,1,1"} {
		if _, err := ParseOptions(bad); err == nil {
			t.Errorf("ParseOptions(%q) = nil error, want one", bad)
		}
	}
}

// TestMetaAndAttemptRoundTrip checks that FieldMeta and FieldAttempt read
// back what they were written from (a name may hold commas; it comes
// last), and refuse what the scripts never write.
func TestMetaAndAttemptRoundTrip(t *testing.T) {
	t.Parallel()
	for _, m := range []Meta{
		{},
		{Options: Options{MaxRetries: 3, Timeout: time.Minute, ResultTTL: time.Hour}, Queue: "default", Name: "email.send"},
		{Queue: "q", Name: "odd,name,with,commas"},
	} {
		got, err := ParseMeta(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMeta(%q) = %+v, %v; want %+v", m.String(), got, err, m)
		}
	}
	for _, bad := range []string{"", "1,2,3", "1,2,3,q", "x,2,3,q,n", "1,2,3 ,q,n"} {
		if _, err := ParseMeta(bad); err == nil {
			t.Errorf("ParseMeta(%q) = nil error, want one", bad)
		}
	}
	at, err := ParseAttempt("tok,1700000000123,7")
	if err != nil || at.Token != "tok" || at.Number != 7 || !at.Started.Equal(time.UnixMilli(1700000000123)) {
		t.Errorf("ParseAttempt = %+v, %v", at, err)
	}
	if at, err := ParseAttempt(",1700000000123,2"); err != nil || at.Token != "" || at.Number != 2 {
		t.Errorf("ParseAttempt of a reaped attempt = %+v, %v; want no token, number 2", at, err)
	}
	for _, bad := range []string{"", "tok", "tok,1", "tok,soon,1", "tok,1,x", "tok,1,99999999999"} {
		if _, err := ParseAttempt(bad); err == nil {
			t.Errorf("ParseAttempt(%q) = nil error, want one", bad)
		}
	}
}

// TestTakeOfNoneLeasesNothing asks take.lua for 0 tasks, which the pool
// never does: no lease may be written without its set.
func TestTakeOfNoneLeasesNothing(t *testing.T) {
	t.Parallel()
	ctx, rdb, b := withQueued(t, 1)
	keys := b.takeKeys(&Taken{Queue: "q", Token: "tok"})
	ids, err := takeScript.Run(ctx, rdb, keys, 0, ms(time.Minute), "tok").StringSlice()
	if err != nil || len(ids) != 0 {
		t.Fatalf("take of 0 = %v, %v; want nothing", ids, err)
	}
	if n := rdb.ZCard(ctx, keys[1]).Val(); n != 0 {
		t.Errorf("take of 0 left %d leases", n)
	}
	if got, err := b.Claim(ctx, "q", 0, time.Minute); err != nil || len(got) != 0 {
		t.Errorf("Claim(0) = %v, %v; want nothing", got, err)
	}
}
