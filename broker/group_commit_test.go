package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestGroupCommitBatchesWaitingCalls holds the first flush open while ten
// more calls arrive: they must go together in the second flush, each with
// its own result.
func TestGroupCommitBatchesWaitingCalls(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	g := &groupCommit[int, string]{max: 100, flush: func(ctx context.Context, items []int) ([]string, error) {
		mu.Lock()
		sizes = append(sizes, len(items))
		first := len(sizes) == 1
		mu.Unlock()
		if first {
			<-release
		}
		out := make([]string, len(items))
		for i, it := range items {
			out[i] = fmt.Sprint("r", it)
		}
		return out, nil
	}}
	results := make(chan string, 11)
	go func() { v, _ := g.do(context.Background(), 0); results <- v }()
	waitUntil(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(sizes) == 1 })
	for i := 1; i <= 10; i++ {
		go func() {
			v, err := g.do(context.Background(), i)
			if err != nil || v != fmt.Sprint("r", i) {
				v = fmt.Sprintf("call %d got %q, %v", i, v, err)
			}
			results <- v
		}()
	}
	waitUntil(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.pending) == 10 })
	close(release)
	got := map[string]bool{}
	for range 11 {
		got[<-results] = true
	}
	for i := 0; i <= 10; i++ {
		if !got[fmt.Sprint("r", i)] {
			t.Errorf("results %v lack r%d", got, i)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(sizes) != "[1 10]" {
		t.Errorf("flush sizes = %v, want [1 10]", sizes)
	}
}

func TestGroupCommitCapsBatchesAndSharesErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	var mu sync.Mutex
	var sizes []int
	g := &groupCommit[int, int]{max: 3, flush: func(ctx context.Context, items []int) ([]int, error) {
		mu.Lock()
		sizes = append(sizes, len(items))
		mu.Unlock()
		time.Sleep(time.Millisecond)
		return nil, boom
	}}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := g.do(context.Background(), 1); !errors.Is(err, boom) {
				t.Errorf("do = %v, want the flush's error", err)
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range sizes {
		if n > 3 {
			t.Errorf("a flush of %d items, over the cap of 3", n)
		}
		total += n
	}
	if total != 20 || g.leaders != 0 || len(g.pending) != 0 {
		t.Errorf("flushed %d items (want 20), leaders %d, pending %d after all returned", total, g.leaders, len(g.pending))
	}
}

// TestGroupCommitLanes holds every flush open: with three lanes, three
// calls flush at once, alone, and the calls that come next wait and go
// together once a lane is free.
func TestGroupCommitLanes(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	var inFlight, most int
	g := &groupCommit[int, string]{max: 100, lanes: 3, flush: func(ctx context.Context, items []int) ([]string, error) {
		mu.Lock()
		sizes = append(sizes, len(items))
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		<-release
		mu.Lock()
		inFlight--
		mu.Unlock()
		out := make([]string, len(items))
		for i, it := range items {
			out[i] = fmt.Sprint("r", it)
		}
		return out, nil
	}}
	results := make(chan string, 13)
	call := func(i int) {
		v, err := g.do(context.Background(), i)
		if err != nil || v != fmt.Sprint("r", i) {
			v = fmt.Sprintf("call %d got %q, %v", i, v, err)
		}
		results <- v
	}
	for i := range 3 {
		go call(i)
	}
	waitUntil(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(sizes) == 3 })
	for i := 3; i < 13; i++ {
		go call(i)
	}
	waitUntil(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.pending) == 10 })
	close(release)
	got := map[string]bool{}
	for range 13 {
		got[<-results] = true
	}
	for i := range 13 {
		if !got[fmt.Sprint("r", i)] {
			t.Errorf("results %v lack r%d", got, i)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(sizes) != "[1 1 1 10]" || most != 3 {
		t.Errorf("flush sizes = %v with at most %d at once, want [1 1 1 10] and 3", sizes, most)
	}
	if g.leaders != 0 || g.pending != nil {
		t.Errorf("leaders %d, pending %d after all returned; want 0 and none", g.leaders, len(g.pending))
	}
}

// TestGroupCommitLanesUnderContention runs many callers through a few
// lanes with small batches (under -race in CI): every call gets its own
// result, no flush exceeds the cap or the lanes, and nothing is left over.
func TestGroupCommitLanesUnderContention(t *testing.T) {
	t.Parallel()
	var inFlight, most atomic.Int32
	var flushed atomic.Int64
	g := &groupCommit[int, int]{max: 5, lanes: 4, flush: func(ctx context.Context, items []int) ([]int, error) {
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		defer inFlight.Add(-1)
		if len(items) > 5 {
			t.Errorf("a flush of %d items, over the cap of 5", len(items))
		}
		flushed.Add(int64(len(items)))
		time.Sleep(50 * time.Microsecond)
		out := make([]int, len(items))
		for i, it := range items {
			out[i] = it * 2
		}
		return out, nil
	}}
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				item := w*1000 + i
				if v, err := g.do(context.Background(), item); err != nil || v != item*2 {
					t.Errorf("do(%d) = %d, %v; want %d", item, v, err, item*2)
					return
				}
			}
		}()
	}
	wg.Wait()
	if flushed.Load() != 32*200 || most.Load() > 4 || g.leaders != 0 || g.pending != nil {
		t.Errorf("flushed %d items (want %d), at most %d flushes at once (lanes 4), leaders %d, pending %d after all returned",
			flushed.Load(), 32*200, most.Load(), g.leaders, len(g.pending))
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGroupCommitFailsWaitersWhenRedisIsDown checks that calls queued
// behind a flush that failed because Redis is unreachable get that error at
// once, instead of each waiting out a failing flush of its own.
func TestGroupCommitFailsWaitersWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	down := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	release := make(chan struct{})
	var flushes atomic.Int32
	g := &groupCommit[int, int]{max: 100, flush: func(ctx context.Context, items []int) ([]int, error) {
		if flushes.Add(1) == 1 {
			<-release
		}
		return nil, down
	}}
	errs := make(chan error, 6)
	go func() { _, err := g.do(context.Background(), 0); errs <- err }()
	waitUntil(t, func() bool { return flushes.Load() == 1 })
	for i := range 5 {
		go func() { _, err := g.do(context.Background(), i); errs <- err }()
	}
	waitUntil(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.pending) == 5 })
	close(release)
	for range 6 {
		if err := <-errs; err == nil || err.Error() != down.Error() {
			t.Errorf("do = %v, want the unavailable error", err)
		}
	}
	if n := flushes.Load(); n != 1 {
		t.Errorf("%d flushes, want 1: waiters behind a failed flush must not flush again", n)
	}
}
