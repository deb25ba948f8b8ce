package tasks

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestIdleGateBlocksOneLoop sends three loops to wait on an empty queue:
// one blocks on Redis, the others park without calling it, and wake
// releases them.
func TestIdleGateBlocksOneLoop(t *testing.T) {
	t.Parallel()
	var g idleGate
	var blocking atomic.Int32
	release := make(chan struct{})
	block := func(ctx context.Context) error {
		blocking.Add(1)
		<-release
		return nil
	}
	var wg sync.WaitGroup
	var blocked atomic.Int32 // loops that wait reported as having blocked
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := g.wait(context.Background(), block)
			if err != nil {
				t.Errorf("wait = %v, want nil", err)
			}
			if b {
				blocked.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for !parkedLoops(&g) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // room for a wrong second block call
	if n := blocking.Load(); n != 1 {
		t.Fatalf("%d loops blocked on Redis, want 1 (the others park)", n)
	}
	close(release) // the blocking loop returns; the parked ones still wait
	g.wake()
	wg.Wait()
	if n := blocking.Load(); n != 1 {
		t.Errorf("%d loops blocked on Redis in all, want 1", n)
	}
	if n := blocked.Load(); n != 1 {
		t.Errorf("wait reported %d loops as blocked, want 1: a parked loop learned nothing of Redis", n)
	}
}

func parkedLoops(g *idleGate) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting && g.parked != nil
}

// TestIdleGateParkedLoopsLeaveOnCancel checks that a parked loop returns
// when its context ends, and that a failed block wakes the parked loops so
// that one of them can try Redis.
func TestIdleGateParkedLoopsLeaveOnCancel(t *testing.T) {
	t.Parallel()
	var g idleGate
	boom := errors.New("boom")
	fail := make(chan struct{})
	blockErr := make(chan error, 1)
	go func() {
		_, err := g.wait(context.Background(), func(context.Context) error { <-fail; return boom })
		blockErr <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !waitingLoop(&g) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan struct{})
	go func() {
		if blocked, _ := g.wait(ctx, func(context.Context) error { t.Error("a second loop blocked on Redis"); return nil }); blocked {
			t.Error("a parked loop reported that it blocked")
		}
		close(left)
	}()
	woken := make(chan struct{})
	go func() { _, _ = g.wait(context.Background(), func(context.Context) error { return nil }); close(woken) }()
	for !parkedLoops(&g) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-left:
	case <-time.After(5 * time.Second):
		t.Fatal("a parked loop did not return when its context ended")
	}
	close(fail)
	if err := <-blockErr; !errors.Is(err, boom) {
		t.Errorf("wait = %v, want the block's error", err)
	}
	select {
	case <-woken:
	case <-time.After(5 * time.Second):
		t.Fatal("a failed block did not wake the parked loop")
	}
}

func waitingLoop(g *idleGate) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting
}
