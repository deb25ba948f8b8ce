package tasks_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// peak counts the handlers of one kind running at once, and the most seen.
type peak struct{ now, max atomic.Int32 }

func (p *peak) enter() {
	n := p.now.Add(1)
	for m := p.max.Load(); n > m && !p.max.CompareAndSwap(m, n); m = p.max.Load() {
	}
}

func (p *peak) leave() { p.now.Add(-1) }

// handler returns a handler that takes d, counted by p.
func (p *peak) handler(d time.Duration) tasks.HandlerFunc {
	return func(ctx context.Context, tk *tasks.Task) (any, error) {
		p.enter()
		defer p.leave()
		time.Sleep(d)
		return nil, nil
	}
}

// countingPool starts a pool on a client of its own that counts its claim
// calls.
func (s bundle) countingPool(t *testing.T, cfg tasks.PoolConfig) *claimCounter {
	t.Helper()
	counter := &claimCounter{}
	cfg.Logger = quiet()
	s.startHookedPool(t, counter, cfg)
	return counter
}

// calls returns the waits and takes a counter saw.
func (c *claimCounter) calls() int {
	w, tk, _, _ := c.get()
	return w + tk
}

func TestPauseStopsClaimsAndResumeRestartsThem(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ctx := context.Background()
		counter := s.countingPool(t, tasks.PoolConfig{Concurrency: 4})
		waitUntil(t, func() bool { return counter.calls() > 1 }) // the pool is waiting for tasks
		running := s.submit(t, tasks.Request{Name: "sleep", Payload: []byte(`{"ms":600}`)})
		waitUntil(t, func() bool { return s.get(t, running).Status == results.StatusRunning })

		if err := s.client.PauseQueue(ctx, tasks.DefaultQueue); err != nil {
			t.Fatal(err)
		}
		queued := s.submit(t, tasks.Request{Name: "echo", Payload: []byte(`1`)})
		time.Sleep(300 * time.Millisecond) // the event arrives; a wait blocked then takes at most once, refused
		before := counter.calls()
		time.Sleep(time.Second)
		if rec := s.get(t, queued); rec.Status != results.StatusQueued || rec.Attempts != 0 {
			t.Fatalf("task submitted to a paused queue: %s after %d attempts, want queued", rec.Status, rec.Attempts)
		}
		if n := counter.calls() - before; n > 0 {
			t.Errorf("a pool of a paused queue sent %d waits and takes in 1s, want none", n)
		}
		if rec := s.wait(t, running); rec.Status != results.StatusSucceeded {
			t.Errorf("task running at the pause: %s, want succeeded", rec.Status)
		}

		resumed := time.Now()
		if err := s.client.ResumeQueue(ctx, tasks.DefaultQueue); err != nil {
			t.Fatal(err)
		}
		rec := s.wait(t, queued)
		if d := rec.StartedAt.Sub(resumed); rec.Status != results.StatusSucceeded || d > 500*time.Millisecond {
			t.Errorf("after resume: %s, started %v later; want succeeded at once", rec.Status, d)
		}
	})
}

func TestQueueMaxRunningAcrossPools(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		var p peak
		s.reg.HandleFunc("work", p.handler(150*time.Millisecond))
		two := 2
		if _, err := s.client.UpdateQueue(context.Background(), "capped", tasks.QueueUpdate{MaxRunning: &two}); err != nil {
			t.Fatal(err)
		}
		cfg := tasks.PoolConfig{Queues: []string{"capped"}, Concurrency: 5}
		counters := []*claimCounter{s.countingPool(t, cfg), s.countingPool(t, cfg)}
		var ids []uuid.UUID
		for range 10 {
			ids = append(ids, s.submit(t, tasks.Request{Name: "work", Options: tasks.Options{Queue: "capped"}}))
		}
		time.Sleep(200 * time.Millisecond)
		before := counters[0].calls() + counters[1].calls()
		for _, id := range ids {
			if rec := s.wait(t, id); rec.Status != results.StatusSucceeded || rec.Attempts != 1 {
				t.Fatalf("task %s: %s after %d attempts", id, rec.Status, rec.Attempts)
			}
		}
		if m := p.max.Load(); m != 2 {
			t.Errorf("most tasks of a queue with max_running 2 running at once = %d, want 2", m)
		}
		// Each slot freed wakes both pools once: about two takes per task,
		// not a loop of refused takes.
		n := counters[0].calls() + counters[1].calls() - before
		t.Logf("two pools, 10 tasks at a cap of 2: %d waits and takes", n)
		if n > 60 {
			t.Errorf("two pools sent %d waits and takes for 10 tasks under a cap, want a few per task", n)
		}
	})
}

func TestNameMaxRunningLetsOtherNamesFlow(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		var p peak
		s.reg.HandleFunc("render", p.handler(100*time.Millisecond), tasks.HandlerOptions{MaxRunning: 2})
		cfg := tasks.PoolConfig{Concurrency: 4}
		s.countingPool(t, cfg)
		s.countingPool(t, cfg)
		var renders, echoes []uuid.UUID
		for range 8 {
			renders = append(renders, s.submit(t, tasks.Request{Name: "render"}))
			echoes = append(echoes, s.submit(t, tasks.Request{Name: "echo", Payload: []byte(`1`)}))
		}
		var echoed time.Time
		for _, id := range echoes {
			rec := s.wait(t, id)
			if rec.FinishedAt.After(echoed) {
				echoed = rec.FinishedAt
			}
		}
		var rendered time.Time
		for _, id := range renders {
			rec := s.wait(t, id)
			if rec.Status != results.StatusSucceeded || rec.Attempts != 1 {
				t.Fatalf("render %s: %s after %d attempts, want succeeded at the first", id, rec.Status, rec.Attempts)
			}
			if rec.FinishedAt.After(rendered) {
				rendered = rec.FinishedAt
			}
		}
		if m := p.max.Load(); m != 2 {
			t.Errorf("most renders at once = %d, want 2 (MaxRunning)", m)
		}
		if !echoed.Before(rendered.Add(-200 * time.Millisecond)) {
			t.Errorf("echoes finished at %v, renders at %v: the echoes waited behind the capped renders", echoed, rendered)
		}
		info, err := s.client.Queue(context.Background(), tasks.DefaultQueue)
		if err != nil {
			t.Fatal(err)
		}
		want := tasks.NameLimits{Name: "render", MaxRunning: 2}
		if len(info.Limits) != 1 || info.Limits[0] != want {
			t.Errorf("queue limits = %+v, want %+v", info.Limits, want)
		}
	})
}

func TestRateSpacesStarts(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.reg.HandleFunc("mail", func(ctx context.Context, tk *tasks.Task) (any, error) { return nil, nil },
			tasks.HandlerOptions{Rate: "20/s"})
		cfg := tasks.PoolConfig{Concurrency: 8}
		s.countingPool(t, cfg)
		s.countingPool(t, cfg)
		var ids []uuid.UUID
		for range 10 {
			ids = append(ids, s.submit(t, tasks.Request{Name: "mail"}))
		}
		other := s.submit(t, tasks.Request{Name: "echo", Payload: []byte(`1`)})
		if rec := s.wait(t, other); rec.Status != results.StatusSucceeded {
			t.Fatalf("echo behind rate-limited tasks: %s", rec.Status)
		}
		var starts []time.Time // on Redis's clock, when start.lua ran
		for _, id := range ids {
			rec := s.wait(t, id)
			if rec.Status != results.StatusSucceeded || rec.Attempts != 1 {
				t.Fatalf("mail %s: %s after %d attempts, want succeeded at the first", id, rec.Status, rec.Attempts)
			}
			starts = append(starts, rec.StartedAt)
		}
		slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
		// Turns are 50 ms apart; a start may come late after its turn (a
		// busy machine), so that the next seems close, but never in a burst.
		for i := 4; i < len(starts); i++ {
			if d := starts[i].Sub(starts[i-4]); d < 100*time.Millisecond {
				t.Errorf("starts %d to %d within %v, want about 200ms (20/s)", i-4, i, d)
			}
		}
		if span := starts[len(starts)-1].Sub(starts[0]); span < 400*time.Millisecond || span > 2*time.Second {
			t.Errorf("10 starts at 20/s spanned %v, want about 450ms", span)
		}
	})
}

func TestHandlerLimitsAreChecked(t *testing.T) {
	t.Parallel()
	reg := tasks.NewRegistry()
	for _, opts := range []tasks.HandlerOptions{{Rate: "10"}, {Rate: "0/s"}, {Rate: "10/d"}, {Rate: "1000001/s"}, {MaxRunning: -1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("HandleFunc with %+v did not panic", opts)
				}
			}()
			reg.HandleFunc("bad", func(context.Context, *tasks.Task) (any, error) { return nil, nil }, opts)
		}()
	}
	reg.HandleFunc("ok", func(context.Context, *tasks.Task) (any, error) { return nil, nil })
	tests := []struct {
		name, rate string
		max        int
		want       error
	}{
		{"ok", "600/m", 5, nil},
		{"ok", "", 0, nil},
		{"ok", "5/x", 0, tasks.ErrInvalid},
		{"ok", "", tasks.MaxMaxRunning + 1, tasks.ErrInvalid},
		{"nobody", "1/h", 1, tasks.ErrUnknownName},
	}
	for _, tt := range tests {
		err := errors.Join(reg.SetRate(tt.name, tt.rate), reg.SetMaxRunning(tt.name, tt.max))
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("SetRate(%q, %q), SetMaxRunning(%d) = %v, want %v", tt.name, tt.rate, tt.max, err, tt.want)
		}
	}
}

func TestHandlersShowLimits(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.reg.HandleFunc("mail", func(context.Context, *tasks.Task) (any, error) { return nil, nil },
			tasks.HandlerOptions{Rate: "600/m", MaxRunning: 5})
		s.register(t)
		hs, err := s.client.Handlers(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(hs, func(h tasks.HandlerInfo) bool { return h.Name == "mail" })
		if i < 0 || hs[i].Rate != "600/m" || hs[i].MaxRunning != 5 {
			t.Errorf("Handlers = %+v, want mail at 600/m and at most 5", hs)
		}
		info, err := s.client.Queue(context.Background(), tasks.DefaultQueue)
		want := tasks.NameLimits{Name: "mail", Rate: "600/m", MaxRunning: 5}
		if err != nil || len(info.Limits) != 1 || info.Limits[0] != want {
			t.Errorf("Queue limits = %+v, %v; want %+v", info.Limits, err, want)
		}
	})
}
