package broker_test

import (
	"errors"
	"testing"
	"time"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/internal/layout"
)

// leaseCount returns how many leases queue holds, and whether token's set
// of IDs exists.
func leaseCount(t *testing.T, s bundle, queue, token string) (leases int64, set bool) {
	t.Helper()
	n, err := s.be.Client.ZCard(s.ctx, s.b.LeasesKey(queue)).Result()
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.be.Client.Exists(s.ctx, s.b.LeaseTasksKey(queue, token)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n, e == 1
}

// TestOneLeasePerClaim checks that a claimed batch shares one lease, which
// lives while any of its attempts is unfinished and goes with the last.
func TestOneLeasePerClaim(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		for range 3 {
			enqueue(t, s, "q", "echo", 3)
		}
		cs := claimN(t, s, "q", 3, time.Minute)
		tok := cs[0].Token
		if cs[1].Token != tok || cs[2].Token != tok {
			t.Fatalf("tokens of one claim: %q %q %q, want one", tok, cs[1].Token, cs[2].Token)
		}
		if n, set := leaseCount(t, s, "q", tok); n != 1 || !set {
			t.Fatalf("after Claim: %d leases, set exists %v; want 1 lease with its set", n, set)
		}
		if st := stats(t, s, "q"); st.Leased != 3 {
			t.Fatalf("Stats().Leased after Claim = %d, want 3", st.Leased)
		}
		res, err := s.b.Finish(s.ctx, []broker.Finish{
			{Claimed: &cs[0], Outcome: broker.Succeeded, Result: []byte("1")},
			{Claimed: &cs[1], Outcome: broker.Retry, Error: "again", RetryIn: time.Hour},
		})
		if err != nil || res[0] != nil || res[1] != nil {
			t.Fatalf("Finish of 2 = %v, %v; want both applied", res, err)
		}
		if st := stats(t, s, "q"); st.Leased != 1 || st.Scheduled != 1 {
			t.Fatalf("Stats after 2 of 3 finished = %+v, want 1 leased and 1 scheduled", st)
		}
		held, err := s.b.Renew(s.ctx, "q", time.Minute, []string{tok})
		if err != nil || len(held) != 1 || !held[0] {
			t.Fatalf("Renew while one attempt runs = %v, %v; want [true]", held, err)
		}
		if err := finish(s, broker.Finish{Claimed: &cs[2], Outcome: broker.Failed, Error: "no"}); err != nil {
			t.Fatalf("Finish of the last: %v", err)
		}
		if n, set := leaseCount(t, s, "q", tok); n != 0 || set {
			t.Fatalf("after the last Finish: %d leases, set exists %v; want none", n, set)
		}
		held, err = s.b.Renew(s.ctx, "q", time.Minute, []string{tok})
		if err != nil || held[0] {
			t.Fatalf("Renew of a finished lease = %v, %v; want [false]", held, err)
		}
		// The lease is gone, but a resent outcome is still recognised.
		if err := finish(s, broker.Finish{Claimed: &cs[2], Outcome: broker.Failed, Error: "no"}); err != nil {
			t.Errorf("resent Finish after the lease was dropped = %v, want nil", err)
		}
		if err := finish(s, broker.Finish{Claimed: &cs[0], Outcome: broker.Failed, Error: "no"}); !errors.Is(err, broker.ErrLeaseLost) {
			t.Errorf("second outcome after the lease was dropped = %v, want ErrLeaseLost", err)
		}
	})
}

// TestFinishAcrossLeases records attempts of two claims in one call,
// interleaved, with a stale attempt among them.
func TestFinishAcrossLeases(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		for range 4 {
			enqueue(t, s, "q", "echo", 0)
		}
		a := claimN(t, s, "q", 2, time.Minute)
		b := claimN(t, s, "q", 2, time.Minute)
		if b[0].Token == a[0].Token {
			t.Fatalf("two claims under one lease token %q", a[0].Token)
		}
		stale := b[1]
		stale.Token = a[0].Token // held by the other lease, not this attempt's
		ok := func(c *broker.Claimed) broker.Finish {
			return broker.Finish{Claimed: c, Outcome: broker.Succeeded, Result: []byte(`"` + c.ID.String() + `"`)}
		}
		res, err := s.b.Finish(s.ctx, []broker.Finish{ok(&b[0]), ok(&a[0]), ok(&stale), ok(&b[1]), ok(&a[1])})
		if err != nil {
			t.Fatal(err)
		}
		want := []error{nil, nil, broker.ErrLeaseLost, nil, nil}
		for i := range want {
			if !errors.Is(res[i], want[i]) || (want[i] == nil) != (res[i] == nil) {
				t.Errorf("Finish result %d = %v, want %v", i, res[i], want[i])
			}
		}
		for _, c := range append(a, b...) {
			if got := hget(t, s, c.ID, layout.FieldResult); got != `"`+c.ID.String()+`"` {
				t.Errorf("result of %s = %s, want its own", c.ID, got)
			}
		}
		for _, tok := range []string{a[0].Token, b[0].Token} {
			if n, set := leaseCount(t, s, "q", tok); n != 0 || set {
				t.Errorf("lease %s after all finished: %d leases, set %v; want none", tok, n, set)
			}
		}
	})
}

// TestFinishTakesATaskOncePerCall sends three outcomes for one
// attempt in one batch: the first is applied, a different second is
// refused, and a repeat of the first reports success without a second
// write, as a resent call does.
func TestFinishTakesATaskOncePerCall(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		for range 2 {
			enqueue(t, s, "q", "echo", 0)
		}
		c := claimN(t, s, "q", 2, time.Minute)
		ok := func(c *broker.Claimed, result string) broker.Finish {
			return broker.Finish{Claimed: c, Outcome: broker.Succeeded, Result: []byte(result)}
		}
		late := broker.Finish{Claimed: &c[0], Outcome: broker.Failed, Error: "late"}
		res, err := s.b.Finish(s.ctx, []broker.Finish{ok(&c[0], `"first"`), late, ok(&c[1], `"other"`), ok(&c[0], `"again"`)})
		if err != nil {
			t.Fatal(err)
		}
		want := []error{nil, broker.ErrLeaseLost, nil, nil}
		for i := range want {
			if !errors.Is(res[i], want[i]) || (want[i] == nil) != (res[i] == nil) {
				t.Errorf("Finish result %d = %v, want %v", i, res[i], want[i])
			}
		}
		if got, e := hget(t, s, c[0].ID, layout.FieldResult), hget(t, s, c[0].ID, layout.FieldError); got != `"first"` || e != "" {
			t.Errorf("task given three outcomes: result %s, error %q; want the first's and none", got, e)
		}
		if got := hget(t, s, c[1].ID, layout.FieldResult); got != `"other"` {
			t.Errorf("other task's result = %s, want its own", got)
		}
		if n, set := leaseCount(t, s, "q", c[0].Token); n != 0 || set {
			t.Errorf("lease after all finished: %d leases, set %v; want none", n, set)
		}
	})
}

// TestStartTakeInOneCall starts one taken batch and takes the next in one
// call, then starts the next. (TestStartTakeIsIdempotent resends the call.)
func TestStartTakeInOneCall(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		var ids []string
		for range 4 {
			ids = append(ids, layout.IDText(enqueue(t, s, "q", "echo", 0)))
		}
		_, first, err := s.b.Take(s.ctx, "q", 2, time.Minute, "")
		if err != nil || first == nil || len(first.IDs) != 2 {
			t.Fatalf("Take(2) = %v, %v; want 2 IDs", first, err)
		}
		got, next, err := s.b.StartTake(s.ctx, first, 5, time.Minute)
		if err != nil || len(got) != 2 || got[0].Attempts != 1 || layout.IDText(got[0].ID) != ids[0] || layout.IDText(got[1].ID) != ids[1] {
			t.Fatalf("StartTake = %+v, %v; want the first 2 tasks at attempt 1", got, err)
		}
		if next == nil || len(next.IDs) != 2 || next.Token == first.Token {
			t.Fatalf("StartTake took %+v, want the other 2 under a new token", next)
		}
		got, none, err := s.b.StartTake(s.ctx, next, 0, time.Minute)
		if err != nil || len(got) != 2 || got[0].Token != next.Token || none != nil {
			t.Fatalf("StartTake(next, 0) = %+v, %v, %v; want 2 tasks under its token and no take", got, none, err)
		}
		if st := stats(t, s, "q"); st.Pending != 0 || st.Leased != 4 {
			t.Errorf("Stats = %+v, want 4 leased and none pending", st)
		}
		if n, _ := leaseCount(t, s, "q", next.Token); n != 2 {
			t.Errorf("%d leases, want one per batch", n)
		}
	})
}

// TestStartRefusesAnExpiredLease takes a batch and starts it after its
// lease has passed, as a worker stalled between the two would: nothing
// starts, and reaping hands the task back without counting a crash.
func TestStartRefusesAnExpiredLease(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		id := enqueue(t, s, "q", "echo", 0)
		_, tk, err := s.b.Take(s.ctx, "q", 1, 30*time.Millisecond, "")
		if err != nil || tk == nil || len(tk.IDs) != 1 {
			t.Fatalf("Take = %v, %v", tk, err)
		}
		time.Sleep(60 * time.Millisecond) // past the deadline on Redis's clock
		if got, _, err := s.b.StartTake(s.ctx, tk, 0, time.Minute); err != nil || len(got) != 0 {
			t.Fatalf("Start after the lease passed = %+v, %v; want nothing started", got, err)
		}
		if got := status(t, s, id); got != "queued" {
			t.Fatalf("status = %q, want queued", got)
		}
		reapUntil(t, s, "q", 3, reaped{Requeued: 1})
		if c := claimOne(t, s, "q", time.Minute); c.ID != id || c.Attempts != 1 || c.Crashes != 0 {
			t.Errorf("claim after reaping = %+v, want attempt 1, no crash", c)
		}
	})
}
