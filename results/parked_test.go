package results_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/results"
)

// parkResult is what a Park callback was called with.
type parkResult struct {
	rec results.Record
	err error
}

// park parks a waiter on id whose answers arrive on the returned channel.
func (s bundle) park(id [16]byte, wait time.Duration) (*results.Parked, chan parkResult) {
	got := make(chan parkResult, 2) // room for a second, wrong, call
	p := s.watcher.Park(id, time.Now().Add(wait), func(rec results.Record, err error) { got <- parkResult{rec, err} })
	return p, got
}

func answerOf(t *testing.T, got chan parkResult, what string) parkResult {
	t.Helper()
	select {
	case r := <-got:
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("no answer 10s after %s", what)
	}
	return parkResult{}
}

func TestParkAnsweredOnFinish(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		c := s.enqueueAndClaim(t)
		const n = 300 // more than one pipeline of reads
		chans := make([]chan parkResult, n)
		for i := range chans {
			_, chans[i] = s.park(c.ID, 30*time.Second)
		}
		if got := s.watcher.Waiting(); got != n {
			t.Fatalf("Waiting() = %d after %d parks, want %d", got, n, n)
		}
		s.succeed(t, &c)
		for i, ch := range chans {
			if r := answerOf(t, ch, "the task finished"); r.err != nil || r.rec.Status != results.StatusSucceeded {
				t.Fatalf("waiter %d: answer = %s, %v; want succeeded, nil", i, r.rec.Status, r.err)
			}
		}
		if n := s.watcher.Waiting(); n != 0 {
			t.Errorf("Waiting() = %d after all answered, want 0", n)
		}
	})
}

func TestParkAnsweredAtDeadline(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		c := s.enqueueAndClaim(t)
		start := time.Now()
		_, late := s.park(c.ID, 200*time.Millisecond)
		_, early := s.park(c.ID, 50*time.Millisecond)
		missing := uuid.New()
		_, gone := s.park(missing, 50*time.Millisecond)
		if r := answerOf(t, early, "its deadline"); r.err != nil || r.rec.Status != results.StatusRunning {
			t.Errorf("answer at the deadline = %s, %v; want running, nil", r.rec.Status, r.err)
		}
		if r := answerOf(t, gone, "its deadline"); !errors.Is(r.err, results.ErrNotFound) {
			t.Errorf("answer for a missing task = %v, want ErrNotFound", r.err)
		}
		answerOf(t, late, "its deadline")
		if took := time.Since(start); took < 200*time.Millisecond {
			t.Errorf("200ms wait answered after %s", took)
		}
	})
}

func TestParkCancel(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		c := s.enqueueAndClaim(t)
		p, got := s.park(c.ID, 50*time.Millisecond)
		if !p.Cancel() {
			t.Fatal("Cancel() of a waiting park = false, want true")
		}
		if p.Cancel() {
			t.Error("second Cancel() = true, want false")
		}
		select {
		case r := <-got:
			t.Errorf("canceled park answered with %s, %v", r.rec.Status, r.err)
		case <-time.After(200 * time.Millisecond):
		}
		if n := s.watcher.Waiting(); n != 0 {
			t.Errorf("Waiting() = %d after Cancel, want 0", n)
		}
	})
}

func TestStoppedWatcherAnswersParked(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		c := s.enqueueAndClaim(t)
		_, got := s.park(c.ID, time.Minute)
		s.stop() // returns once the parked waiter is answered
		select {
		case r := <-got:
			if r.err != nil || r.rec.Status != results.StatusRunning {
				t.Errorf("answer at stop = %s, %v; want the current status, running", r.rec.Status, r.err)
			}
		default:
			t.Fatal("Run returned before answering its parked waiter")
		}
		_, after := s.park(c.ID, time.Minute)
		if r := answerOf(t, after, "Park on a stopped watcher"); r.rec.Status != results.StatusRunning {
			t.Errorf("Park after stop = %s, %v; want running at once", r.rec.Status, r.err)
		}
	})
}

func TestReadIsGet(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		c := s.enqueueAndClaim(t)
		ctx := context.Background()
		want, err := s.watcher.Get(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.watcher.Read(ctx, c.ID)
		if err != nil || got.ID != want.ID || got.Status != want.Status || string(got.Payload) != string(want.Payload) {
			t.Errorf("Read = %+v, %v; want Get's %+v", got, err, want)
		}
		missing := uuid.New()
		if _, err := s.watcher.Read(ctx, missing); !errors.Is(err, results.ErrNotFound) {
			t.Errorf("Read(missing) = %v, want ErrNotFound", err)
		}
		done, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.watcher.Read(done, c.ID); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Read with a canceled context = %v, want the record or context.Canceled", err)
		}
		if n := s.watcher.Waiting(); n != 0 {
			t.Errorf("Waiting() = %d after reads, want 0: a read is not a wait", n)
		}
	})
}
