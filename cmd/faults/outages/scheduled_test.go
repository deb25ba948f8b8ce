package outages

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// TestScheduledTasksSurviveRestarts holds three tasks back in a runq
// process on a Redis with its AOF on, then kills both (SIGKILL) and starts
// them again on the same port and data directory. The task that fell due
// while everything was down runs as soon as a worker is back; the one due
// after the restart is still scheduled, then runs on time; the one due in
// an hour stays scheduled with its run_at. Nothing else remembers them:
// the worker that scheduled them is gone, and Redis was restarted.
func TestScheduledTasksSurviveRestarts(t *testing.T) {
	setup(t)
	rs := StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	first, base := StartRunqAPI(t, "--redis", rs.URL(), "--addr", "127.0.0.1:0")
	c := NewClient(base, 5*time.Second, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var ids [3]uuid.UUID
	var runAt [3]time.Time
	for i, delay := range []time.Duration{time.Second, 8 * time.Second, time.Hour} {
		rec, err := c.Submit(ctx, tasks.Request{Name: "echo", Options: tasks.Options{Delay: delay}})
		if err != nil || rec.Status != results.StatusScheduled {
			t.Fatalf("submit with delay %s = %+v, %v; want scheduled", delay, rec, err)
		}
		ids[i], runAt[i] = rec.ID, rec.RunAt
	}
	first.Kill()
	rs.Kill()
	down := time.Now()
	time.Sleep(2 * time.Second) // the first task falls due while everything is down
	if err := rs.Start(); err != nil {
		t.Fatalf("restart redis-server: %v\nlog:\n%s", err, rs.Log())
	}
	second, base := StartRunqAPI(t, "--redis", rs.URL(), "--addr", "127.0.0.1:0")
	back := time.Now()
	c = NewClient(base, 5*time.Second, 4)

	if rec, err := c.Get(ctx, ids[1]); err != nil || rec.Status != results.StatusScheduled || !rec.RunAt.Equal(runAt[1]) {
		t.Fatalf("the task due after the restart = %+v, %v; want still scheduled, run_at %v", rec, err, runAt[1])
	}
	var late [2]time.Duration
	for i := range 2 {
		rec, err := c.Wait(ctx, ids[i])
		if err != nil || rec.Status != results.StatusSucceeded || rec.StartedAt.Before(runAt[i]) {
			t.Fatalf("task %d after the restart = %+v, %v; want succeeded, not before its run_at %v", i, rec, err, runAt[i])
		}
		late[i] = rec.StartedAt.Sub(runAt[i])
	}
	hour, err := c.Get(ctx, ids[2])
	if err != nil || hour.Status != results.StatusScheduled || !hour.RunAt.Equal(runAt[2]) {
		t.Errorf("the task due in an hour = %+v, %v; want scheduled, run_at %v", hour, err, runAt[2])
	}
	code, stopErr := second.Stop(20 * time.Second)
	Summary(t, "scheduled-restarts", "down_ms", ms(back.Sub(down)), "due_while_down_late_ms", ms(late[0]),
		"due_after_restart_late_ms", ms(late[1]), "exit", code)
	if limit := back.Sub(runAt[0]) + 2*time.Second; late[0] > limit {
		t.Errorf("the task due while down started %s after its run_at, want within 2s of the worker's return (%s)", late[0], limit)
	}
	if late[1] > 500*time.Millisecond {
		t.Errorf("the task due after the restart started %s after its run_at, want on time", late[1])
	}
	if stopErr != nil || code != 0 {
		t.Errorf("runq after SIGTERM: exit %d, %v; want 0", code, stopErr)
	}
}
