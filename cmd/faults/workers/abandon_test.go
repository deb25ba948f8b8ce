package workers

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// TestAbandonWhileRecording covers the edge between a late handler and
// its abandonment: the handler overruns its timeout but returns before the
// pool would abandon it, and recording its outcome is slow (a gate in the
// pool's Redis client holds back finish.lua, as a Redis slow to take
// writes would), so the abandonment deadline passes while the outcome is
// being written. One attempt has one outcome: the pool must not abandon an
// attempt whose handler returned, must send, record and count exactly one
// outcome, what it counts must be what Redis holds, and a failed task must
// not keep a result. (This test found the keeper abandoning such attempts
// and recording a second outcome.)
//
// Finishes are group-committed. In "separate flushes" the late handler's
// own write is held, and the keeper's would follow in the next flush; in
// "same flush" another task's write is held, so that both writes of the
// late attempt would wait together and go in one script call.
func TestAbandonWhileRecording(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		sameFlush bool
	}{
		{"separate flushes", false},
		{"same flush", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			testAbandonWhileRecording(t, tt.sameFlush)
		})
	}
}

func testAbandonWhileRecording(t *testing.T, sameFlush bool) {
	s := setup(t)
	const (
		timeout    = 500 * time.Millisecond
		visibility = 2 * time.Second        // abandoned at timeout + visibility/4 = 1s
		late       = 700 * time.Millisecond // after the timeout, before the abandonment
		early      = 300 * time.Millisecond // the other task's handler, in the same flush case
	)
	gate := newFinishGate()
	reg := tasks.NewRegistry()
	reg.HandleFunc("late", func(context.Context, *tasks.Task) (any, error) {
		time.Sleep(late) // the context is ignored on purpose
		if !sameFlush {
			gate.shut()
		}
		return "done", nil
	})
	reg.HandleFunc("early", func(context.Context, *tasks.Task) (any, error) {
		time.Sleep(early)
		gate.shut() // holds this task's write, with the late ones queued behind it
		return "done", nil
	})
	s.registerNames(t, "late", "early")
	r := request(t, "late", nil)
	r.Timeout, r.MaxRetries = timeout, tasks.NoRetries
	reqs := []tasks.Request{r}
	if sameFlush {
		reqs = append(reqs, request(t, "early", nil))
	}
	id := s.submit(t, reqs)[0]
	pool, log := s.runPool(t, reg, tasks.PoolConfig{Concurrency: 2, VisibilityTimeout: visibility, Grace: time.Second}, gate)

	// Setup, not an assertion: hold the handler's write until well past
	// the abandonment deadline (timeout + visibility/4, checked every
	// visibility/8), so that a keeper that wrongly abandons an attempt
	// whose handler has returned would have sent its write by then.
	time.Sleep(timeout + visibility/4 + visibility/8 + 300*time.Millisecond)
	if st := pool.Stats(); st.Abandoned != 0 {
		t.Errorf("Stats().Abandoned = %d: an attempt whose handler returned before its deadline was abandoned", st.Abandoned)
	}
	gate.release()
	gate.waitHeld(id, 2, 3*time.Second) // the keeper's write, if it makes one, follows the handler's
	waitStats(t, pool, 10*time.Second, "every handler gone", func(st tasks.PoolStats) bool { return st.Running == 0 })
	gate.waitPassed(t, 10*time.Second)
	rec := s.waitTerminal(t, []uuid.UUID{id}, 10*time.Second)[0]
	writes := gate.writes(id)
	st := pool.Stats()
	if sameFlush {
		st.Succeeded-- // the early task's
	}
	counted := st.Succeeded + st.Failed + st.Retried + st.Released
	failLogs := len(regexp.MustCompile(`msg="task failed".*task_id=`+id.String()).FindAllString(log.String(), -1))
	summary(t, "abandon-while-recording same_flush=%v handler_returned_after=%s abandoned_at=%s finish_writes=%d outcomes_counted=%d succeeded=%d failed=%d redis_status=%s redis_result=%s failure_logs=%d",
		sameFlush, late, timeout+visibility/4, writes, counted, st.Succeeded, st.Failed, rec.Status, rec.Result, failLogs)

	if counted != 1 || writes != 1 {
		t.Errorf("one attempt: %d finish writes sent and %d outcomes counted (succeeded %d, failed %d), want 1 and 1",
			writes, counted, st.Succeeded, st.Failed)
	}
	if want := map[results.Status]int64{results.StatusSucceeded: st.Succeeded, results.StatusFailed: st.Failed}[rec.Status]; want != 1 || counted != 1 {
		t.Errorf("Redis holds status %s (error %q), but the pool counted succeeded %d, failed %d: the count must match the one outcome recorded",
			rec.Status, rec.Error, st.Succeeded, st.Failed)
	}
	if rec.Status == results.StatusFailed && len(rec.Result) > 0 {
		t.Errorf("task %s is failed (%q) but keeps the result %s: two outcomes of one attempt were both applied", id, rec.Error, rec.Result)
	}
	if rec.Status == results.StatusSucceeded && failLogs > 0 {
		t.Errorf("task %s succeeded, but the pool logged %d \"task failed\" lines for it", id, failLogs)
	}
}

// finishGate is a go-redis hook that holds back calls of finish.lua while
// it is shut, and counts the writes they carry: distinct (task, lease
// token, outcome) triples, so that a call resent after NOSCRIPT counts
// once. Outcomes are written in batches, in pipelines; one that arrives
// while a write is held waits behind it in the worker, not at the gate.
type finishGate struct {
	mu     sync.Mutex
	open   chan struct{}       // closed while the gate is open
	held   map[string]struct{} // writes that reached the gate
	passed map[string]struct{} // writes Redis answered without error
}

func newFinishGate() *finishGate {
	g := &finishGate{open: make(chan struct{}), held: make(map[string]struct{}), passed: make(map[string]struct{})}
	close(g.open)
	return g
}

func (g *finishGate) counts() (held, passed int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.held), len(g.passed)
}

// shut makes finish calls wait until release.
func (g *finishGate) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = make(chan struct{})
}

// release lets the waiting finish calls through.
func (g *finishGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.open)
}

// writes returns how many distinct writes for task id reached the gate.
func (g *finishGate) writes(id uuid.UUID) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for w := range g.held {
		if strings.HasPrefix(w, redistest.IDText(id)+" ") { // the ID as Redis holds it
			n++
		}
	}
	return n
}

// waitHeld waits up to timeout for n writes for task id to have reached
// the gate; fewer is not an error: the caller reports what came.
func (g *finishGate) waitHeld(id uuid.UUID, n int, timeout time.Duration) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for g.writes(id) < n {
		select {
		case <-tick.C:
		case <-deadline.C:
			return
		}
	}
}

// waitPassed waits until Redis has answered every write that reached the
// gate.
func (g *finishGate) waitPassed(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for held, passed := g.counts(); passed < held; held, passed = g.counts() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("%d of %d finish writes answered within %s", passed, held, timeout)
		}
	}
}

func (g *finishGate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *finishGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		return g.through(ctx, []redis.Cmder{cmd}, func() error { return next(ctx, cmd) })
	}
}

func (g *finishGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		return g.through(ctx, cmds, func() error { return next(ctx, cmds) })
	}
}

// through runs send, first waiting for the gate if cmds call finish.lua.
func (g *finishGate) through(ctx context.Context, cmds []redis.Cmder, send func() error) error {
	var writes []string
	for _, c := range cmds {
		writes = append(writes, finishWrites(c.Args())...)
	}
	if len(writes) == 0 {
		return send()
	}
	g.mu.Lock()
	for _, w := range writes {
		g.held[w] = struct{}{}
	}
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
	case <-ctx.Done():
		for _, c := range cmds {
			c.SetErr(ctx.Err())
		}
		return ctx.Err()
	}
	err := send()
	for _, c := range cmds {
		err = errors.Join(err, c.Err())
	}
	if err == nil {
		g.mu.Lock()
		for _, w := range writes {
			g.passed[w] = struct{}{}
		}
		g.mu.Unlock()
	}
	return err
}

// finishWrites recognises a call of finish.lua by its shape (EVALSHA or
// EVAL; 4 queue keys, one lease set per token and one task key per attempt;
// the done channel, the number of tokens m, the m tokens, then 4 arguments
// per attempt, the second its op: an outcome's letter and the index of its
// token) and returns "id token outcome" for each attempt it records.
func finishWrites(args []any) []string {
	if len(args) < 5 {
		return nil
	}
	if name := strings.ToLower(fmt.Sprint(args[0])); name != "evalsha" && name != "eval" {
		return nil
	}
	numKeys, err := strconv.Atoi(fmt.Sprint(args[2]))
	if err != nil || len(args) < 3+numKeys+2 {
		return nil
	}
	m, err := strconv.Atoi(fmt.Sprint(args[3+numKeys+1]))
	attempts := numKeys - 4 - m
	if err != nil || m < 1 || attempts < 1 || len(args) != 3+numKeys+2+m+4*attempts {
		return nil
	}
	tokens := args[3+numKeys+2 : 3+numKeys+2+m]
	var out []string
	for a := 3 + numKeys + 2 + m; a < len(args); a += 4 {
		op := fmt.Sprint(args[a+1])
		if len(op) < 2 {
			return nil
		}
		k, err := strconv.Atoi(op[1:])
		outcome, known := finishOutcomes[op[0]]
		if err != nil || k < 1 || k > m || !known {
			return nil
		}
		out = append(out, fmt.Sprint(args[a], " ", tokens[k-1], " ", outcome))
	}
	return out
}

// finishOutcomes names the outcome of each op letter of finish.lua.
var finishOutcomes = map[byte]string{'s': "succeeded", 'S': "succeeded", 'f': "failed", 'r': "retry", 'q': "release"}
