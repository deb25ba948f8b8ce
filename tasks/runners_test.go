package tasks

import (
	"sync"
	"testing"
	"time"
)

// TestRunnersReuseAndNeverWait checks that a runner left idle takes the
// next job, that a job never waits behind a busy runner, and that closing
// ends the idle runners.
func TestRunnersReuseAndNeverWait(t *testing.T) {
	r := newRunners()

	block, blocked := make(chan struct{}), make(chan struct{})
	r.run(func() { close(blocked); <-block }) // busy until released
	<-blocked
	done := make(chan struct{})
	r.run(func() { close(done) }) // must not wait for the busy runner
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a job waited behind a busy runner")
	}

	// The second runner is idle now: a run hands it the job instead of
	// starting a third.
	if n := r.live.Load(); n != 2 {
		t.Fatalf("runners after a job beside a busy one: %d, want 2", n)
	}
	for range 100 { // each job finds the idle runner, or at worst a new one while it settles
		var wg sync.WaitGroup
		wg.Add(1)
		r.run(wg.Done)
		wg.Wait()
	}
	if n := r.live.Load(); n > 4 {
		t.Errorf("runners after 100 jobs one at a time: %d, want idle runners reused (at most 4, not 100)", n)
	}

	r.close()
	close(block)
	waitFor(t, func() bool { return r.live.Load() == 0 })
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met after 5s")
		}
	}
}
