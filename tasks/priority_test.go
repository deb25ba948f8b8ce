package tasks_test

import (
	"context"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/runq/runq/tasks"
)

// ran is one task a priority test ran: its queue, and its number in the
// order it was submitted to that queue.
type ran struct {
	queue string
	n     int
}

// runLog keeps the tasks of the "prio.log" handler in the order they ran.
type runLog struct {
	mu   sync.Mutex
	runs []ran
}

func (l *runLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.runs)
}

func (l *runLog) first(n int) []ran {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.runs[:n])
}

// prioSetup registers "prio.log" in s's registry, recording into the log
// it returns, and records the registry's names in Redis.
func prioSetup(t *testing.T, s bundle) *runLog {
	t.Helper()
	l := &runLog{}
	s.reg.HandleFunc("prio.log", func(ctx context.Context, task *tasks.Task) (any, error) {
		n, err := strconv.Atoi(string(task.Payload))
		l.mu.Lock()
		defer l.mu.Unlock()
		l.runs = append(l.runs, ran{task.Queue, n})
		return nil, err
	})
	s.register(t)
	return l
}

// fill queues count prio.log tasks in queue, numbered from 0.
func fill(t *testing.T, s bundle, queue string, count int) {
	t.Helper()
	for from := 0; from < count; from += tasks.MaxBatch {
		var batch []tasks.Request
		for n := from; n < min(count, from+tasks.MaxBatch); n++ {
			batch = append(batch, tasks.Request{Name: "prio.log", Payload: []byte(strconv.Itoa(n)),
				Options: tasks.Options{Queue: queue, MaxRetries: tasks.NoRetries, ResultTTL: time.Minute}})
		}
		if _, err := s.client.SubmitBatch(context.Background(), batch); err != nil {
			t.Fatalf("SubmitBatch(%d tasks to %s): %v", len(batch), queue, err)
		}
	}
}

// seeded returns a source for SetClaimRand: seeded, and safe for the
// pool's claim loops to share.
func seeded(seed uint64) func(n int) int {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed))
	return func(n int) int {
		mu.Lock()
		defer mu.Unlock()
		return r.IntN(n)
	}
}

// runFirst runs a pool of concurrency 1 on the queued tasks, with claim
// orders drawn from seed, until n have run, and returns those n. With one
// handler at a time, the pool claims one task per claim, and they run in
// the order claimed.
func runFirst(t *testing.T, s bundle, l *runLog, cfg tasks.PoolConfig, seed uint64, n int) []ran {
	t.Helper()
	cfg.Concurrency = 1
	cfg.Prefix, cfg.Logger = s.be.Prefix, quiet()
	p := tasks.NewPool(s.be.Client, s.reg, cfg)
	tasks.SetClaimRand(p, seeded(seed))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(time.Minute)
	for l.len() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Pool.Run = %v", err)
	}
	if got := l.len(); got < n {
		t.Fatalf("%d tasks ran within a minute, want %d", got, n)
	}
	return l.first(n)
}

// checkFIFO fails t unless each queue's tasks in runs are numbered 0, 1,
// 2, ... in the order they ran: the order they were submitted.
func checkFIFO(t *testing.T, runs []ran) {
	t.Helper()
	next := make(map[string]int)
	for i, r := range runs {
		if r.n != next[r.queue] {
			t.Fatalf("run %d is task %d of %s, want task %d: FIFO within a queue", i, r.n, r.queue, next[r.queue])
		}
		next[r.queue]++
	}
}

// shares counts runs by queue.
func shares(runs []ran) map[string]int {
	out := make(map[string]int)
	for _, r := range runs {
		out[r.queue]++
	}
	return out
}

// checkShares fails t unless each queue's share of runs is want's within
// ±0.03 (about 2.7 standard deviations of the largest share over 2,000
// claims; the seeded source makes the draws the same on every run).
func checkShares(t *testing.T, runs []ran, want map[string]float64) {
	t.Helper()
	got := shares(runs)
	t.Logf("the first %d runs by queue: %v", len(runs), got)
	for _, q := range slices.Sorted(maps.Keys(want)) {
		if share := float64(got[q]) / float64(len(runs)); share < want[q]-0.03 || share > want[q]+0.03 {
			t.Errorf("%s ran %d of the first %d tasks (%.3f), want a share of %.3f ± 0.03 (all: %v)", q, got[q], len(runs), share, want[q], got)
		}
	}
}

// TestStrictOrderStarvesLaterQueues documents strict order: with tasks in
// every queue, none of default runs while critical has any, and none of
// low while critical or default has any. Within a queue, FIFO.
func TestStrictOrderStarvesLaterQueues(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		l := prioSetup(t, s)
		for _, q := range []string{"low", "default", "critical"} { // submitted lowest first
			fill(t, s, q, 40)
		}
		runs := runFirst(t, s, l, tasks.PoolConfig{Queues: []string{"critical", "default", "low"}}, 1, 120)
		checkFIFO(t, runs)
		for i, r := range runs {
			if want := []string{"critical", "default", "low"}[i/40]; r.queue != want {
				t.Fatalf("run %d is of %s, want %s: strict order runs every task of an earlier queue first", i, r.queue, want)
			}
		}
	})
}

// TestWeightedOrderShares runs the first 2,000 of 6,000 tasks queued in
// three queues weighted 6:3:1: each gets its weight's share, within a
// bound, low included, and each queue's tasks run in order.
func TestWeightedOrderShares(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		l := prioSetup(t, s)
		for _, q := range []string{"critical", "default", "low"} {
			fill(t, s, q, 2000)
		}
		cfg := tasks.PoolConfig{Queues: []string{"critical", "default", "low"},
			Weights: map[string]int{"critical": 6, "default": 3, "low": 1}}
		runs := runFirst(t, s, l, cfg, 7, 2000)
		checkFIFO(t, runs)
		checkShares(t, runs, map[string]float64{"critical": 0.6, "default": 0.3, "low": 0.1})
		if i := slices.IndexFunc(runs, func(r ran) bool { return r.queue == "low" }); i < 0 || i > 100 {
			t.Errorf("low's first task ran %dth, want within the first 100 runs: weighted order does not starve it", i)
		}
	})
}

// TestWeightedOrderSkipsEmptyQueues checks that an empty weighted queue
// holds up no other: with default (weight 3) empty, critical and low
// share the claims 6:1, and once only low has tasks, they all run (and a
// task that arrives while the pool waits runs too).
func TestWeightedOrderSkipsEmptyQueues(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		l := prioSetup(t, s)
		fill(t, s, "critical", 1000)
		fill(t, s, "low", 1000)
		weights := map[string]int{"critical": 6, "default": 3, "low": 1}
		runs := runFirst(t, s, l, tasks.PoolConfig{Weights: weights}, 3, 700)
		checkFIFO(t, runs)
		checkShares(t, runs, map[string]float64{"critical": 6.0 / 7, "low": 1.0 / 7})

		lowRan := shares(l.first(l.len()))["low"] // the pool has stopped: its log is complete
		s.reg = tasks.NewRegistry()               // a fresh log, on queues where only low has tasks
		l = prioSetup(t, s)
		cfg := tasks.PoolConfig{Queues: []string{"default", "low"}, Weights: map[string]int{"default": 1000, "low": 1}}
		runs = runFirst(t, s, l, cfg, 4, 1000-lowRan)
		for i, r := range runs {
			if r != (ran{"low", lowRan + i}) {
				t.Fatalf("run %d is task %d of %s, want task %d of low: the rest of low, in order", i, r.n, r.queue, lowRan+i)
			}
		}

		_, stop := s.startPool(t, tasks.PoolConfig{Weights: weights, Concurrency: 2})
		defer stop()
		s.wait(t, s.submit(t, tasks.Request{Name: "prio.log", Payload: []byte("1000"), Options: tasks.Options{Queue: "low"}}))
	})
}

// TestWorkersShowWeights checks that a weighted pool reports its queues
// and their weights among the live workers, and a strict one no weights.
func TestWorkersShowWeights(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ctx := context.Background()
		weights := map[string]int{"critical": 6, "default": 3, "low": 1}
		s.startPool(t, tasks.PoolConfig{Weights: weights})
		s.startPool(t, tasks.PoolConfig{Queues: []string{"a", "b"}})
		var ws []tasks.WorkerInfo
		until(t, "both pools among the live workers", func() bool {
			ws, _ = s.client.Workers(ctx)
			return len(ws) == 2
		})
		for _, w := range ws {
			strict := slices.Equal(w.Queues, []string{"a", "b"}) && w.Weights == nil
			weighted := slices.Equal(w.Queues, []string{"critical", "default", "low"}) && maps.Equal(w.Weights, weights)
			if !strict && !weighted {
				t.Errorf("worker queues %v, weights %v; want [a b] without weights, or [critical default low] weighted %v", w.Queues, w.Weights, weights)
			}
		}
	})
}

// TestPoolRefusesBadWeights checks that Run returns an error for a bad
// weight before it registers anything.
func TestPoolRefusesBadWeights(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		for _, cfg := range []tasks.PoolConfig{
			{Weights: map[string]int{"a": 0}},
			{Weights: map[string]int{"a": tasks.MaxQueueWeight + 1}},
			{Queues: []string{"a", "b"}, Weights: map[string]int{"a": 1}},
		} {
			if err := s.pool(cfg).Run(context.Background()); err == nil {
				t.Errorf("Run with weights %v on queues %v = nil, want an error", cfg.Weights, cfg.Queues)
			}
		}
		if hs, err := s.client.Handlers(context.Background()); err != nil || len(hs) != 0 {
			t.Errorf("Handlers after refused runs = %v, %v; want none", hs, err)
		}
	})
}
