package results_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
)

type bundle struct {
	be      redistest.Backend
	b       *broker.Broker
	watcher *results.Watcher
	stop    func()
}

func setup(t *testing.T) []bundle {
	t.Helper()
	var out []bundle
	for _, be := range redistest.Backends(t) {
		b := broker.New(be.Client, be.Prefix)
		w := results.NewWatcher(b, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = w.Run(ctx) }()
		var once sync.Once
		stop := func() { once.Do(func() { cancel(); <-done }) }
		t.Cleanup(stop)
		out = append(out, bundle{be: be, b: b, watcher: w, stop: stop})
	}
	return out
}

func each(t *testing.T, fn func(t *testing.T, s bundle)) {
	t.Helper()
	t.Parallel()
	for _, s := range setup(t) {
		t.Run(s.be.Name, func(t *testing.T) { fn(t, s) })
	}
}

func (s bundle) enqueueAndClaim(t *testing.T) broker.Claimed {
	t.Helper()
	ctx := context.Background()
	if _, err := s.b.Enqueue(ctx, []broker.NewTask{{Name: "x", Queue: "q", Payload: []byte("1"), ResultTTL: time.Hour}}); err != nil {
		t.Fatal(err)
	}
	_, taken, err := s.b.Take(ctx, "q", 1, time.Minute, "")
	if err != nil || taken == nil {
		t.Fatalf("Take = %v, %v", taken, err)
	}
	got, _, err := s.b.StartTake(ctx, taken, 0, time.Minute)
	if err != nil || len(got) != 1 {
		t.Fatalf("StartTake = %d, %v", len(got), err)
	}
	return got[0]
}

// succeed records c's success.
func (s bundle) succeed(t *testing.T, c *broker.Claimed) {
	t.Helper()
	res, err := s.b.Finish(context.Background(), []broker.Finish{{Claimed: c, Outcome: broker.Succeeded, Result: []byte(`"ok"`)}})
	if err != nil || res[0] != nil {
		t.Fatalf("Finish = %v, %v", res, err)
	}
}

func TestWaitWakesManyWaitersOnFinish(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		c := s.enqueueAndClaim(t)
		const waiters = 200
		var wg sync.WaitGroup
		errs := make(chan error, waiters)
		for range waiters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec, err := s.watcher.Wait(context.Background(), c.ID, 30*time.Second)
				if err == nil && rec.Status != results.StatusSucceeded {
					err = errors.New("woke with status " + string(rec.Status))
				}
				errs <- err
			}()
		}
		deadline := time.Now().Add(5 * time.Second)
		for s.watcher.Waiting() < waiters {
			if time.Now().After(deadline) {
				t.Fatalf("only %d of %d waiters registered", s.watcher.Waiting(), waiters)
			}
			time.Sleep(5 * time.Millisecond)
		}
		s.succeed(t, &c)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("waiters not woken 10s after the task finished (their wait was 30s)")
		}
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("Wait: %v", err)
			}
		}
		if n := s.watcher.Waiting(); n != 0 {
			t.Errorf("Waiting() = %d after all returned, want 0", n)
		}
	})
}

func TestWaitTimesOutWithCurrentRecord(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		c := s.enqueueAndClaim(t)
		rec, err := s.watcher.Wait(context.Background(), c.ID, 50*time.Millisecond)
		if err != nil || rec.Status != results.StatusRunning {
			t.Fatalf("Wait on a running task = %s, %v; want running, nil", rec.Status, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		rec, err = s.watcher.Wait(ctx, c.ID, 0)
		if !errors.Is(err, context.DeadlineExceeded) || rec.ID != c.ID || rec.Status != results.StatusRunning {
			t.Errorf("Wait past its context = %s %s, %v; want the running record and DeadlineExceeded", rec.ID, rec.Status, err)
		}
		missing := uuid.New()
		if _, err := s.watcher.Wait(context.Background(), missing, time.Second); !errors.Is(err, results.ErrNotFound) {
			t.Errorf("Wait(missing) = %v, want ErrNotFound", err)
		}
	})
}

func TestStoppedWatcherEndsWaits(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		c := s.enqueueAndClaim(t)
		got := make(chan results.Status, 1)
		go func() {
			rec, _ := s.watcher.Wait(context.Background(), c.ID, time.Minute)
			got <- rec.Status
		}()
		deadline := time.Now().Add(5 * time.Second)
		for s.watcher.Waiting() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		s.stop()
		select {
		case st := <-got:
			if st != results.StatusRunning {
				t.Errorf("Wait after stop = %s, want the current status, running", st)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Wait still blocked 10s after the watcher stopped")
		}
	})
}

// TestWatcherSubscribesOnlyWhileWaited holds the subscription while a Wait
// or a parked waiter is there and drops it once nobody has waited for the
// idle period: a process nobody waits on is not woken by every finished
// task. Both kinds of waiter are answered by the notification, not their
// deadlines.
func TestWatcherSubscribesOnlyWhileWaited(t *testing.T) {
	t.Parallel()
	for _, be := range redistest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			s := bundle{be: be, b: broker.New(be.Client, be.Prefix)}
			s.watcher = results.NewWatcher(s.b, nil)
			results.SetIdleAfter(s.watcher, 100*time.Millisecond)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = s.watcher.Run(ctx) }()
			defer func() { cancel(); <-done }()
			channel := redistest.Layout(be.Prefix).Done()
			subscribers := func() int64 { return be.Client.PubSubNumSub(ctx, channel).Val()[channel] }
			until := func(what string, cond func() bool) {
				t.Helper()
				for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("%s: not within 5s", what)
					}
				}
			}
			time.Sleep(200 * time.Millisecond)
			if n := subscribers(); n != 0 {
				t.Fatalf("subscribers with nobody waiting = %d, want 0", n)
			}

			c := s.enqueueAndClaim(t)
			got := make(chan results.Record, 1)
			began := time.Now()
			go func() { rec, _ := s.watcher.Wait(ctx, c.ID, 20*time.Second); got <- rec }()
			until("subscribed for a Wait", func() bool { return subscribers() == 1 })
			s.succeed(t, &c)
			if rec := <-got; rec.Status != results.StatusSucceeded || time.Since(began) > 5*time.Second {
				t.Fatalf("Wait = %s after %v, want succeeded by the notification", rec.Status, time.Since(began))
			}
			until("unsubscribed once idle", func() bool { return subscribers() == 0 })

			c = s.enqueueAndClaim(t)
			parked := make(chan results.Record, 1)
			s.watcher.Park(c.ID, time.Now().Add(20*time.Second), func(rec results.Record, _ error) { parked <- rec })
			until("subscribed for a parked waiter", func() bool { return subscribers() == 1 })
			s.succeed(t, &c)
			if rec := <-parked; rec.Status != results.StatusSucceeded {
				t.Fatalf("parked waiter answered %s, want succeeded", rec.Status)
			}
			until("unsubscribed once idle again", func() bool { return subscribers() == 0 })
		})
	}
}
