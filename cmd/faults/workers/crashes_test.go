package workers

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// TestWorkerCrashes runs "record" tasks on four worker processes and kills
// one at random with SIGKILL every two seconds, restarting it at once,
// until the queue is nearly empty. Every task must end
// succeeded with its own result, having run at least once; the summary
// gives the duplicate executions and the time from the last kill to the
// last completion, which must stay within the visibility timeout plus the
// reaper's period and a margin.
//
// All tasks are queued before the workers start and each sleeps long
// enough that the run spans many kills with every slot busy, so that each
// kill cuts tasks short in the middle of their handler.
func TestWorkerCrashes(t *testing.T) {
	t.Parallel()
	s := setup(t)
	n, runFor := 2000, 16*time.Second
	if s.full {
		n, runFor = 10000, 60*time.Second
	}
	const (
		workers     = 4
		concurrency = 4
		visibility  = 2 * time.Second
		killEvery   = 2 * time.Second
		reapPeriod  = time.Second // maintenance runs at least this often
		margin      = 2 * time.Second
	)
	ms := max(5, min(200, int(runFor.Milliseconds())*workers*concurrency/n))

	s.registerNames(t, "record")
	reqs := make([]tasks.Request, n)
	for i := range reqs {
		reqs[i] = request(t, "record", RecordArgs{MS: ms})
	}
	ids := s.submit(t, reqs)

	args := []string{"--concurrency", strconv.Itoa(concurrency), "--visibility-timeout", visibility.String(), "--grace", "1s"}
	procs := make([]*proc, workers)
	for i := range procs {
		procs[i] = s.startWorker(t, fmt.Sprintf("worker %d", i), args...)
	}
	began := time.Now()
	kills, lastKill := s.killWhileQueued(t, procs, args, 2*workers*concurrency, killEvery, int(3*runFor/killEvery))

	recs := s.waitTerminal(t, ids, visibility+2*time.Minute)
	execs := s.executions(t)
	_, lastDone := span(recs)
	var lost, duplicates, redelivered int
	for _, r := range recs {
		e := execs[r.ID.String()]
		duplicates += max(0, e-1)
		redelivered += r.Crashes
		if err := checkRecorded(r, e); err != nil {
			if lost++; lost <= 10 {
				t.Errorf("task %s: %v", r.ID, err)
			}
		}
	}
	toDone := max(0, lastDone.Sub(lastKill))
	summary(t, "worker-crashes tasks=%d workers=%d concurrency=%d handler_ms=%d kills=%d redelivered=%d duplicates=%d lost=%d last_kill_to_done=%s bound=%s elapsed=%s",
		n, workers, concurrency, ms, kills, redelivered, duplicates, lost, seconds(toDone),
		visibility+reapPeriod+margin, seconds(time.Since(began)))
	if lost > 0 {
		t.Errorf("%d of %d tasks did not end succeeded with their result and an execution", lost, n)
	}
	if bound := visibility + reapPeriod + margin; toDone > bound {
		t.Errorf("last completion came %s after the last kill, want at most %s (visibility timeout %s + reaping %s + margin %s)",
			toDone, bound, visibility, reapPeriod, margin)
	}
	if kills < 2 {
		t.Errorf("only %d kills: the run ended before the test could exercise crashes", kills)
	}
	for _, p := range procs {
		if !p.running() {
			t.Errorf("%s (pid %d) exited by itself (%v)", p.name, p.pid(), p.cmd.ProcessState)
		}
	}
}

// killWhileQueued kills a random worker every period, restarting it at
// once, while at least busy tasks wait in the queue (at most limit times).
// With that many waiting, every worker has all its slots taken, so each
// kill, the last included, cuts tasks short. It returns the number of
// kills and the time of the last.
func (s *bundle) killWhileQueued(t *testing.T, procs []*proc, args []string, busy int64, period time.Duration, limit int) (int, time.Time) {
	t.Helper()
	tick := time.NewTicker(period)
	defer tick.Stop()
	kills, last := 0, time.Time{}
	for kills < limit {
		<-tick.C
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		queued, err := s.rdb.LLen(ctx, redistest.Layout("").Pending(tasks.DefaultQueue)).Result()
		cancel()
		if err != nil {
			t.Fatalf("LLEN of the queue: %v", err)
		}
		if queued < busy {
			break
		}
		i := rand.IntN(len(procs))
		procs[i].kill(t)
		last = time.Now()
		kills++
		procs[i] = s.startWorker(t, procs[i].name, args...)
	}
	return kills, last
}

// executions reads the execution counts of "record", by task ID.
func (s *bundle) executions(t *testing.T) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	raw, err := s.rdb.HGetAll(ctx, ExecutionsKey).Result()
	if err != nil {
		t.Fatalf("HGETALL %s: %v", ExecutionsKey, err)
	}
	out := make(map[string]int, len(raw))
	for id, v := range raw {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("HGET %s %s = %q, not a count", ExecutionsKey, id, v)
		}
		out[id] = n
	}
	return out
}

// checkRecorded checks that a "record" task succeeded with its own result,
// and that the execution that produced it was counted.
func checkRecorded(r results.Record, executions int) error {
	if r.Status != results.StatusSucceeded {
		return fmt.Errorf("status %q (error %q, attempts %d, crashes %d), want %s",
			r.Status, r.Error, r.Attempts, r.Crashes, results.StatusSucceeded)
	}
	var res RecordResult
	if err := json.Unmarshal(r.Result, &res); err != nil || res.ID != r.ID.String() || res.Execution < 1 {
		return fmt.Errorf("result %s (%v), want this task's ID and an execution number", r.Result, err)
	}
	if executions < 1 || int64(executions) < res.Execution {
		return fmt.Errorf("%d executions counted, but the result is from execution %d", executions, res.Execution)
	}
	if r.Attempts < 1 {
		return fmt.Errorf("attempts = %d, want at least 1", r.Attempts)
	}
	return nil
}
