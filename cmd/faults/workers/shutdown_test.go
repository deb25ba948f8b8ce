package workers

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// TestGracefulShutdown sends SIGTERM to a worker whose every slot runs a
// "slow" task: some shorter than --grace, some longer that stop when
// cancelled, and some longer that ignore cancellation. The short ones must
// finish in the grace period; the others must be handed back by the time
// the worker exits (status queued, not left to the visibility timeout),
// then run to completion on a second worker long before that timeout. No
// task may be lost or counted as a crash.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	s := setup(t)
	nShort, nLong, nStubborn := 3, 3, 2
	if s.full {
		nShort, nLong, nStubborn = 10, 10, 5
	}
	const (
		grace      = 3 * time.Second
		visibility = 30 * time.Second
		cancelWait = time.Second // drain waits this long for cancelled handlers
		margin     = 2 * time.Second
	)
	total := nShort + nLong + nStubborn
	s.registerNames(t, "slow")
	var reqs []tasks.Request
	for range nShort {
		reqs = append(reqs, request(t, "slow", SlowArgs{MS: int(grace.Milliseconds() / 2)}))
	}
	for range nLong {
		reqs = append(reqs, request(t, "slow", SlowArgs{MS: 60000}))
	}
	for range nStubborn {
		reqs = append(reqs, request(t, "slow", SlowArgs{MS: 60000, IgnoreCancel: true}))
	}
	ids := s.submit(t, reqs)
	handedBack := ids[nShort:]

	args := []string{"--concurrency", strconv.Itoa(total), "--grace", grace.String(), "--visibility-timeout", visibility.String()}
	first := s.startWorker(t, "first worker", args...)
	s.waitStatus(t, ids, 30*time.Second, "running", func(st results.Status) bool { return st == results.StatusRunning })

	sigterm := time.Now()
	first.signal(t, syscall.SIGTERM)
	if code := first.wait(t, grace+cancelWait+margin+10*time.Second); code != 0 {
		t.Errorf("first worker exited with status %d after SIGTERM, want 0", code)
	}
	exitAfter := first.exitedAt.Sub(sigterm)
	queuedAtExit := s.checkHandedBack(t, handedBack)

	second := s.startWorker(t, "second worker", args...)
	recs := s.waitTerminal(t, ids, visibility/2)
	_, lastDone := span(recs)
	doneAfter := lastDone.Sub(sigterm)
	lost := 0
	for i, r := range recs {
		want := Outcome{Attempt: 1, PID: first.pid()}
		if i >= nShort {
			want = Outcome{Attempt: 2, PID: second.pid()}
		}
		if !checkOutcome(t, r, want) {
			lost++
		}
	}
	summary(t, "graceful-shutdown tasks=%d shorter_than_grace=%d longer=%d ignoring_cancel=%d grace=%s exit_after_sigterm=%s handed_back=%d lost=%d done_after_sigterm=%s visibility_timeout=%s",
		total, nShort, nLong, nStubborn, grace, seconds(exitAfter), queuedAtExit, lost, seconds(doneAfter), visibility)

	if bound := grace + cancelWait + margin; exitAfter > bound {
		t.Errorf("worker exited %s after SIGTERM, want at most %s (grace %s + %s for cancelled handlers + margin)",
			exitAfter, bound, grace, cancelWait)
	}
	if bound := grace + cancelWait + 2*margin; doneAfter > bound {
		t.Errorf("last task finished %s after SIGTERM, want at most %s: well before the visibility timeout %s", doneAfter, bound, visibility)
	}
	for _, r := range recs[:nShort] {
		if r.FinishedAt.After(sigterm.Add(grace)) {
			t.Errorf("short task %s finished %s after SIGTERM, want within the grace period %s", r.ID, r.FinishedAt.Sub(sigterm), grace)
		}
	}
	log := first.out.String()
	if !strings.Contains(log, `msg="grace period over`) {
		t.Errorf("first worker did not log the end of the grace period")
	}
	for _, id := range handedBack[nLong:] {
		if !regexp.MustCompile(`handler ignores cancellation.*task_id=` + id.String()).MatchString(log) {
			t.Errorf("first worker did not log that it handed back task %s, whose handler ignores cancellation", id)
		}
	}
}

// checkHandedBack checks, as soon as the worker has exited, that every
// task it could not finish is queued again at the head of the queue, with
// no lease left and no crash counted. It returns how many are.
func (s *bundle) checkHandedBack(t *testing.T, ids []uuid.UUID) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := 0
	for _, r := range s.records(t, ids) {
		if r.Status == results.StatusQueued && r.Crashes == 0 {
			n++
		} else {
			t.Errorf("task %s at the worker's exit: status %q, crashes %d, want %s, 0 (handed back, not left to expire)",
				r.ID, r.Status, r.Crashes, results.StatusQueued)
		}
	}
	q := tasks.DefaultQueue
	leased, err := s.rdb.ZCard(ctx, redistest.Layout("").Leases(q)).Result()
	if err != nil || leased != 0 {
		t.Errorf("ZCARD %s = %d, %v at the worker's exit, want 0: no lease left behind", redistest.Layout("").Leases(q), leased, err)
	}
	queued, err := s.rdb.LLen(ctx, redistest.Layout("").Pending(q)).Result()
	if err != nil || queued != int64(len(ids)) {
		t.Errorf("LLEN %s = %d, %v at the worker's exit, want %d", redistest.Layout("").Pending(q), queued, err, len(ids))
	}
	return n
}

// checkOutcome checks that a "slow" task succeeded with the result of
// attempt want.Attempt, in process want.PID, after that many attempts and
// no crash. It reports whether it did.
func checkOutcome(t *testing.T, r results.Record, want Outcome) bool {
	t.Helper()
	var got Outcome
	err := json.Unmarshal(r.Result, &got)
	if r.Status != results.StatusSucceeded || err != nil || got != want || r.Attempts != want.Attempt || r.Crashes != 0 {
		t.Errorf("task %s: status %q, result %s, attempts %d, crashes %d (error %q), want %s, %+v, %d, 0",
			r.ID, r.Status, r.Result, r.Attempts, r.Crashes, r.Error, results.StatusSucceeded, want, want.Attempt)
		return false
	}
	return true
}
