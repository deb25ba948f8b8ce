package tasks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// logBuffer collects a logger's text output; it is safe for concurrent
// use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// waitLog waits up to 10s for re to match l and returns its submatches.
func (l *logBuffer) waitLog(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(l.String()); m != nil {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("log did not match %q in 10s:\n%s", re, l)
	return nil
}

// cronID is the ID of the schedules of these tests.
const cronID = "@every 1s report"

// replica starts a pool as a process of its own would run it: its own
// registry, with the "report" handler (defaults: 7 retries) and the
// schedule of cronID into queue "cron", which no pool consumes; its local
// clock skewed by skew.
func (s bundle) replica(t *testing.T, log *slog.Logger, skew time.Duration) (stop func()) {
	t.Helper()
	reg := tasks.NewRegistry()
	reg.HandleFunc("report", func(context.Context, *tasks.Task) (any, error) { return nil, nil }, tasks.HandlerOptions{MaxRetries: 7})
	reg.Every(time.Second, "report", map[string]int{"n": 1}, tasks.ScheduleOptions{Options: tasks.Options{Queue: "cron"}})
	if log == nil {
		log = quiet()
	}
	p := tasks.NewPool(s.be.Client, reg, tasks.PoolConfig{Prefix: s.be.Prefix, Logger: log, Grace: 100 * time.Millisecond})
	tasks.SetClock(p, func() time.Time { return time.Now().Add(skew) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Pool.Run = %v, want nil", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// cronTasks returns the tasks of queue "cron", oldest first.
func (s bundle) cronTasks(t *testing.T) []results.Record {
	t.Helper()
	page, err := s.client.List(context.Background(), tasks.ListOptions{Queue: "cron", Limit: tasks.MaxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	recs := page.Tasks
	for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
		recs[i], recs[j] = recs[j], recs[i]
	}
	return recs
}

// TestScheduleCreatesOneTaskPerTick runs one schedule in three pools whose
// clocks disagree by 600ms: each tick creates one task, a submitted task
// in every respect, and the listing shows the schedule.
func TestScheduleCreatesOneTaskPerTick(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		t.Parallel()
		began := time.Now()
		var stops []func()
		for _, skew := range []time.Duration{-300 * time.Millisecond, 0, 300 * time.Millisecond} {
			stops = append(stops, s.replica(t, nil, skew))
		}
		for len(s.cronTasks(t)) < 3 && time.Since(began) < 10*time.Second {
			time.Sleep(50 * time.Millisecond)
		}
		for _, stop := range stops {
			stop()
		}
		ran := time.Since(began)
		recs := s.cronTasks(t)
		ticks := make(map[time.Time]uuid.UUID)
		for _, r := range recs {
			// A task is created at its tick, on Redis's clock, give or
			// take the scheduler's measure of that clock and its lateness.
			tick := r.CreatedAt.Add(100 * time.Millisecond).Truncate(time.Second)
			if other, dup := ticks[tick]; dup {
				t.Errorf("tick %v created two tasks: %s and %s", tick, other, r.ID)
			}
			ticks[tick] = r.ID
			want := results.Record{ID: r.ID, Name: "report", Queue: "cron", Status: results.StatusQueued, Payload: json.RawMessage(`{"n":1}`),
				MaxRetries: 7, Timeout: tasks.DefaultTimeout, ResultTTL: tasks.DefaultResultTTL, CreatedAt: r.CreatedAt}
			if r.Name != want.Name || r.Queue != want.Queue || r.Status != want.Status || string(r.Payload) != string(want.Payload) ||
				r.MaxRetries != want.MaxRetries || r.Timeout != want.Timeout || r.ResultTTL != want.ResultTTL {
				t.Errorf("ticked task = %+v, want %+v (the handler's 7 retries, runq's other defaults)", r, want)
			}
		}
		if n := len(recs); n < 3 || n > int(ran/time.Second)+1 {
			t.Errorf("%d tasks in %v of 1s ticks, want 3 to %d", n, ran, int(ran/time.Second)+1)
		}

		list, err := s.client.Schedules(context.Background())
		if err != nil || len(list) != 1 {
			t.Fatalf("Schedules() = %+v, %v; want one", list, err)
		}
		last := recs[len(recs)-1]
		si := list[0]
		if si.ID != cronID || si.Spec != "@every 1s" || si.Name != "report" || si.Queue != "cron" || string(si.Payload) != `{"n":1}` ||
			si.LastTaskID != last.ID || !si.LastRun.Equal(last.CreatedAt.Add(100*time.Millisecond).Truncate(time.Second)) ||
			!si.NextRun.After(time.Now().Add(-time.Second)) || time.Since(si.DeclaredAt) > 5*time.Second {
			t.Errorf("Schedules()[0] = %+v, want %s, last task %s at %v, next soon, declared now", si, cronID, last.ID, last.CreatedAt)
		}
	})
}

// TestScheduleSkipsMissedTicks starts a schedule whose last run was 100
// ticks ago: the missed ticks are logged and skipped, not run in a burst.
func TestScheduleSkipsMissedTicks(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		t.Parallel()
		long := time.Now().Truncate(time.Second).Add(-100 * time.Second)
		old := &broker.NewTask{Name: "report", Queue: "cron", Payload: []byte("1"), ResultTTL: time.Hour}
		if _, err := s.b.Tick(context.Background(), cronID, long, time.Second, old); err != nil {
			t.Fatal(err)
		}
		var logs logBuffer
		s.replica(t, logs.logger(), 0)
		m := logs.waitLog(t, regexp.MustCompile(`msg="schedule missed ticks while no process ran it: skipped, not run late" `+
			`schedule="@every 1s report" name=report queue=cron missed=(\d+) at_least=false last_run=`+regexp.QuoteMeta(long.UTC().Format("2006-01-02T15:04:05.000Z07:00"))))
		if n, _ := strconv.Atoi(m[1]); n < 98 || n > 100 {
			t.Errorf("missed=%d, want 98 to 100: the ticks of the last 100s but the last second", n)
		}
		logs.waitLog(t, regexp.MustCompile(`msg="schedule created its task"`))
		time.Sleep(1500 * time.Millisecond)
		if n := len(s.cronTasks(t)); n < 2 || n > 4 {
			t.Errorf("%d tasks in the queue, want the old one and one per tick since the start (2 to 4)", n)
		}
		if strings.Count(logs.String(), "schedule missed ticks") != 1 {
			t.Errorf("missed ticks logged more than once:\n%s", logs.String())
		}
	})
}

// TestScheduleOfAnUnknownName skips the ticks of a schedule whose task
// name no worker registered, saying so once.
func TestScheduleOfAnUnknownName(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		t.Parallel()
		reg := tasks.NewRegistry()
		reg.HandleFunc("report", func(context.Context, *tasks.Task) (any, error) { return nil, nil })
		reg.Every(time.Second, "nobody.handles", nil, tasks.ScheduleOptions{Options: tasks.Options{Queue: "cron"}})
		var logs logBuffer
		p := tasks.NewPool(s.be.Client, reg, tasks.PoolConfig{Prefix: s.be.Prefix, Logger: logs.logger()})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		logs.waitLog(t, regexp.MustCompile(`msg="schedule skips its ticks: no worker has registered its task name"`))
		time.Sleep(1200 * time.Millisecond) // one more tick, not logged again
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Pool.Run = %v, want nil", err)
		}
		if n := strings.Count(logs.String(), "schedule skips"); n != 1 {
			t.Errorf("logged %d times that the schedule skips its ticks, want 1", n)
		}
		if n := len(s.cronTasks(t)); n != 0 {
			t.Errorf("%d tasks created for a name no worker handles, want 0", n)
		}
	})
}

// TestSchedulesLeavesOutStaleOnes lists only the schedules some process
// declared within ScheduleTimeout.
func TestSchedulesLeavesOutStaleOnes(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		t.Parallel()
		ctx := context.Background()
		decl := func(id string) []byte {
			b, _ := json.Marshal(tasks.ScheduleInfo{ID: id, Spec: "@hourly", Name: "report", Queue: "q", Payload: json.RawMessage("null")})
			return b
		}
		_, _, err := s.b.DeclareSchedules(ctx, []broker.ScheduleDecl{{ID: "fresh", Queue: "q", Info: decl("fresh")}, {ID: "stale", Queue: "q", Info: decl("stale")}})
		if err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-tasks.ScheduleTimeout - time.Minute).UnixMilli()
		if err := s.be.Client.HSet(ctx, s.be.Keys.Schedules("q"), "s:stale", old).Err(); err != nil {
			t.Fatal(err)
		}
		list, err := s.client.Schedules(ctx)
		if err != nil || len(list) != 1 || list[0].ID != "fresh" || list[0].LastRun != (time.Time{}) || !list[0].NextRun.After(time.Now()) {
			t.Errorf("Schedules() = %+v, %v; want fresh alone, never run, next in the hour", list, err)
		}
	})
}

// TestScheduleLogsTicksMissedInAnOutage fails every Redis call for about
// two ticks: the schedule goes on at the next tick after, and the process
// that creates it logs the ticks no process could create meanwhile.
func TestScheduleLogsTicksMissedInAnOutage(t *testing.T) {
	t.Parallel()
	s := setup(t)[0] // miniredis, which can fail every call on demand
	be := s.be
	var logs logBuffer
	s.replica(t, logs.logger(), 0)
	logs.waitLog(t, regexp.MustCompile(`msg="schedule created its task"`))
	be.Mini.SetError("LOADING Redis is loading the dataset in memory")
	time.Sleep(2500 * time.Millisecond)
	be.Mini.SetError("")
	m := logs.waitLog(t, regexp.MustCompile(`msg="schedule missed ticks that no process asked for in time: skipped" .* missed=(\d+) at_least=false`))
	if n, _ := strconv.Atoi(m[1]); n < 1 || n > 3 {
		t.Errorf("missed=%d over an outage of 2.5s, want 1 to 3", n)
	}
	if n := len(s.cronTasks(t)); n < 2 {
		t.Errorf("%d tasks, want the one before the outage and one after", n)
	}
}
