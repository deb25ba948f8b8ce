package tasks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// tally is an Observer that counts what it is told, by "queue/name".
type tally struct {
	mu      sync.Mutex
	started map[string]int
	ended   map[string]int // by "queue/name/outcome"
	running int
	waited  []time.Duration
	ran     []time.Duration
}

func newTally() *tally {
	return &tally{started: make(map[string]int), ended: make(map[string]int)}
}

func (o *tally) AttemptStarted(queue, name string, waited time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.started[queue+"/"+name]++
	o.running++
	o.waited = append(o.waited, waited)
}

func (o *tally) AttemptEnded(queue, name string, outcome tasks.AttemptOutcome, ran time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ended[queue+"/"+name+"/"+string(outcome)]++
	o.running--
	o.ran = append(o.ran, ran)
}

// snapshot returns the counts as text, for comparing with a want.
func (o *tally) snapshot() (started, ended string, running int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return fmt.Sprint(o.started), fmt.Sprint(o.ended), o.running
}

// TestObserverSeesEveryAttempt runs tasks that succeed, fail, and fail
// once before succeeding, and checks that the observer is told of each
// attempt's start and end, with its outcome, exactly once.
func TestObserverSeesEveryAttempt(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		var mu sync.Mutex
		seen := make(map[string]bool)
		s.reg.HandleFunc("once", func(ctx context.Context, tk *tasks.Task) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			if !seen[tk.ID.String()] {
				seen[tk.ID.String()] = true
				return nil, fmt.Errorf("first attempt fails")
			}
			return "ok", nil
		})
		o := newTally()
		s.startPool(t, tasks.PoolConfig{Observer: o, Queues: []string{"default", "q2"}})
		var ids []string
		for _, r := range []tasks.Request{
			{Name: "echo", Payload: json.RawMessage(`1`)},
			{Name: "echo", Payload: json.RawMessage(`2`), Options: tasks.Options{Queue: "q2"}},
			{Name: "fail"},
			{Name: "once", Options: tasks.Options{MaxRetries: 2}},
		} {
			ids = append(ids, s.submit(t, r).String())
		}
		for _, id := range ids {
			if rec := s.wait(t, mustParse(t, id)); rec.Status == results.StatusRunning {
				t.Fatalf("task %s still running", id)
			}
		}
		started, ended, running := o.snapshot()
		if want := "map[default/echo:1 default/fail:1 default/once:2 q2/echo:1]"; started != want {
			t.Errorf("started = %s, want %s", started, want)
		}
		want := "map[default/echo/succeeded:1 default/fail/failed:1 default/once/retried:1 default/once/succeeded:1 q2/echo/succeeded:1]"
		if ended != want {
			t.Errorf("ended = %s, want %s", ended, want)
		}
		if running != 0 {
			t.Errorf("running = %d, want 0", running)
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		for _, w := range o.waited {
			if w < 0 || w > 10*time.Second {
				t.Errorf("waited %s, want 0 to 10s", w)
			}
		}
	})
}

// TestObserverSeesAbandonedAttempts: an attempt whose handler ignores its
// timeout, and one whose handler ignores shutdown, each end once, when the
// pool gives up on them, and not again when their handlers return.
func TestObserverSeesAbandonedAttempts(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		release := make(chan struct{})
		var once sync.Once
		free := func() { once.Do(func() { close(release) }) }
		t.Cleanup(free)
		s.reg.HandleFunc("deaf", func(ctx context.Context, tk *tasks.Task) (any, error) {
			<-release // ignores ctx
			return "late", nil
		})
		o := newTally()
		p, stop := s.startPool(t, tasks.PoolConfig{Observer: o, Grace: 50 * time.Millisecond, VisibilityTimeout: 400 * time.Millisecond})
		timedOut := s.submit(t, tasks.Request{Name: "deaf", Options: tasks.Options{Timeout: 50 * time.Millisecond, MaxRetries: tasks.NoRetries}})
		if rec := s.wait(t, timedOut); rec.Status != results.StatusFailed {
			t.Fatalf("deaf with a timeout: %s, want failed", rec.Status)
		}
		s.untilRunning(t, s.submit(t, tasks.Request{Name: "deaf"}))
		stop()
		free()
		until(t, "the zombies to return", func() bool { return p.Stats().Running == 0 })
		_, ended, running := o.snapshot()
		if want := "map[default/deaf/failed:1 default/deaf/released:1]"; ended != want || running != 0 {
			t.Errorf("ended = %s, running %d; want %s, 0", ended, running, want)
		}
	})
}
