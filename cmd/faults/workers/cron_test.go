package workers

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runq/runq/cmd/internal/proctest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// runqBin is the runq binary, built once per test run on first use.
var runqBin = &proctest.Binary{Pkg: "github.com/runq/runq/cmd/runq"}

var (
	scheduleDeclared = regexp.MustCompile(`msg="schedule declared"`)
	taskCreated      = regexp.MustCompile(`msg="schedule created its task"`)
)

// TestCronReplicas runs 5 `runq worker` processes that all declare the
// same schedule, `--cron '@every 1s echo {...}'`, and counts the tasks
// per tick: each tick's task is created once, and no tick is missing
// while all 5 run. It runs 15 ticks, or 100 with RUNQ_LONG=1 (or
// RUNQ_FAULT_SIZE=full):
//
//	RUNQ_LONG=1 go test -v -run TestCronReplicas ./cmd/faults/workers/
func TestCronReplicas(t *testing.T) {
	s := setup(t)
	ticks := 15
	if os.Getenv("RUNQ_LONG") == "1" || s.full {
		ticks = 100
	}
	const replicas = 5
	procs := make([]*proc, replicas)
	for i := range procs {
		procs[i] = startProc(t, fmt.Sprintf("runq worker %d", i+1), runqBin.Path(t), []string{"REDIS_URL=" + s.url},
			"worker", "--cron", `@every 1s echo {"probe": "tick"}`, "--log-level", "debug", "--grace", "5s")
	}
	for _, p := range procs {
		p.waitFor(t, scheduleDeclared, 30*time.Second)
	}
	// Every process asks for every tick from the first whole second after
	// the last one started.
	first := time.Now().Truncate(time.Second).Add(time.Second)
	last := first.Add(time.Duration(ticks-1) * time.Second)
	time.Sleep(time.Until(last.Add(1500 * time.Millisecond)))
	for _, p := range procs {
		p.signal(t, syscall.SIGTERM)
	}
	for _, p := range procs {
		if code := p.wait(t, 30*time.Second); code != 0 {
			t.Errorf("%s: exit code %d after SIGTERM, want 0", p.name, code)
		}
	}

	recs := s.allTasks(t, tasks.DefaultQueue)
	byTick := make(map[int64][]results.Record) // by the tick's Unix second
	var late []time.Duration
	for _, r := range recs {
		// A task is created at its tick on Redis's clock, give or take the
		// process's measure of that clock and its lateness.
		tick := r.CreatedAt.Add(100 * time.Millisecond).Truncate(time.Second)
		byTick[tick.Unix()] = append(byTick[tick.Unix()], r)
		late = append(late, r.CreatedAt.Sub(tick))
		if r.Name != "echo" || string(r.Payload) != `{"probe":"tick"}` {
			t.Errorf("task %s: %s %s, want the echo of the schedule", r.ID, r.Name, r.Payload)
		}
	}
	dups, missing := 0, 0
	for tick, rs := range byTick {
		if len(rs) > 1 {
			dups += len(rs) - 1
			t.Errorf("tick %s: %d tasks, want 1", time.Unix(tick, 0).Format(time.TimeOnly), len(rs))
		}
	}
	for tick := first; !tick.After(last); tick = tick.Add(time.Second) {
		if len(byTick[tick.Unix()]) == 0 {
			missing++
			t.Errorf("tick %s: no task while all %d processes ran", tick.Format(time.TimeOnly), replicas)
		}
	}
	var wins []string
	total := 0
	for _, p := range procs {
		n := len(taskCreated.FindAllString(p.out.String(), -1))
		wins = append(wins, fmt.Sprint(n))
		total += n
	}
	if total != len(recs) {
		t.Errorf("the processes logged %d tasks created, the queue holds %d", total, len(recs))
	}
	slices.Sort(late)
	summary(t, "cron replicas: %d runq workers declaring @every 1s, %d ticks while all ran: %d tasks (%d ticks in all), "+
		"%d duplicates, %d missing; created by each process %s; at tick +%s (p50), +%s (max)",
		replicas, ticks, len(recs), len(byTick), dups, missing, strings.Join(wins, "/"),
		late[len(late)/2].Round(time.Millisecond), late[len(late)-1].Round(time.Millisecond))
}

// allTasks returns every task of queue, newest first.
func (s *bundle) allTasks(t *testing.T, queue string) []results.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []results.Record
	opts := tasks.ListOptions{Queue: queue, Limit: tasks.MaxListLimit}
	for {
		page, err := s.client.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Tasks...)
		if page.NextCursor == "" {
			return out
		}
		opts.Cursor = page.NextCursor
	}
}
