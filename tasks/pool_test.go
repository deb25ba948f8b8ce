package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
	"github.com/runq/runq/tasks/builtin"
)

func TestTypedHandlerRoundTrip(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		tasks.Handle(s.reg, "add", func(ctx context.Context, tk *tasks.Task, in addIn) (addOut, error) {
			return addOut{Sum: in.A + in.B}, nil
		})
		s.startPool(t, tasks.PoolConfig{})
		rec := s.wait(t, s.submit(t, tasks.Request{Name: "add", Payload: payload(t, addIn{2, 40})}))
		var out addOut
		if err := json.Unmarshal(rec.Result, &out); err != nil || rec.Status != results.StatusSucceeded || out.Sum != 42 {
			t.Fatalf("add(2, 40): %s result %s (%v), want succeeded {\"sum\":42}", rec.Status, rec.Result, err)
		}
		if rec.Attempts != 1 || rec.StartedAt.IsZero() || rec.FinishedAt.IsZero() {
			t.Errorf("record %+v: want attempts 1 and start and finish times", rec)
		}
		bad := s.wait(t, s.submit(t, tasks.Request{Name: "add", Payload: json.RawMessage(`"not an object"`), Options: tasks.Options{MaxRetries: 5}}))
		if bad.Status != results.StatusFailed || bad.Attempts != 1 || !strings.Contains(bad.Error, "payload does not decode") {
			t.Errorf("add with a bad payload: %s after %d attempts, error %q; want failed at once", bad.Status, bad.Attempts, bad.Error)
		}
	})
}

func TestRetriesWithBackoff(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		var calls atomic.Int32
		s.reg.HandleFunc("flaky", func(ctx context.Context, tk *tasks.Task) (any, error) {
			if n := calls.Add(1); n < 3 {
				return nil, fmt.Errorf("flake %d", n)
			}
			return tk.Attempt, nil
		})
		var mu sync.Mutex
		var delays []int
		s.startPool(t, tasks.PoolConfig{Backoff: func(n int) time.Duration {
			mu.Lock()
			defer mu.Unlock()
			delays = append(delays, n)
			return time.Duration(n) * 20 * time.Millisecond
		}})
		rec := s.wait(t, s.submit(t, tasks.Request{Name: "flaky", Options: tasks.Options{MaxRetries: 3}}))
		if rec.Status != results.StatusSucceeded || rec.Attempts != 3 || string(rec.Result) != "3" || rec.Error != "" {
			t.Fatalf("flaky: %s after %d attempts, result %s, error %q; want succeeded at attempt 3", rec.Status, rec.Attempts, rec.Result, rec.Error)
		}
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(delays) != "[1 2]" {
			t.Errorf("Backoff called with %v, want [1 2]", delays)
		}
	})
}

func TestRetriesRunOut(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.startPool(t, tasks.PoolConfig{})
		rec := s.wait(t, s.submit(t, tasks.Request{Name: "fail", Payload: json.RawMessage(`{"message":"nope"}`), Options: tasks.Options{MaxRetries: 2}}))
		if rec.Status != results.StatusFailed || rec.Attempts != 3 || rec.Error != "attempt 3: nope" {
			t.Fatalf("fail with 2 retries: %s after %d attempts, error %q; want failed after 3 with the last error", rec.Status, rec.Attempts, rec.Error)
		}
	})
}

func TestSkipRetry(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.reg.HandleFunc("refuse", func(ctx context.Context, tk *tasks.Task) (any, error) {
			return nil, fmt.Errorf("bad input: %w", tasks.ErrSkipRetry)
		})
		s.startPool(t, tasks.PoolConfig{})
		rec := s.wait(t, s.submit(t, tasks.Request{Name: "refuse", Options: tasks.Options{MaxRetries: 5}}))
		if rec.Status != results.StatusFailed || rec.Attempts != 1 {
			t.Fatalf("refuse: %s after %d attempts; want failed after 1", rec.Status, rec.Attempts)
		}
	})
}

func TestTimeout(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		var sawCause atomic.Value
		s.reg.HandleFunc("block", func(ctx context.Context, tk *tasks.Task) (any, error) {
			<-ctx.Done()
			sawCause.Store(context.Cause(ctx))
			return nil, ctx.Err()
		})
		s.startPool(t, tasks.PoolConfig{})
		rec := s.wait(t, s.submit(t, tasks.Request{Name: "block", Options: tasks.Options{Timeout: 50 * time.Millisecond, MaxRetries: 1}}))
		if rec.Status != results.StatusFailed || rec.Attempts != 2 || !strings.Contains(rec.Error, "timed out after 50ms") {
			t.Fatalf("block: %s after %d attempts, error %q; want failed after 2 timed-out attempts", rec.Status, rec.Attempts, rec.Error)
		}
		if c, _ := sawCause.Load().(error); !errors.Is(c, tasks.ErrTimeout) {
			t.Errorf("handler saw cause %v, want ErrTimeout", c)
		}
	})
}

// TestTimeoutsInOneBatch claims tasks of different timeouts in one batch:
// attempts that share a timeout share a deadline (launchAll), and each
// attempt gets its own task's, whatever the others do.
func TestTimeoutsInOneBatch(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		var left sync.Map // task ID -> time until its context's deadline, at start
		s.reg.HandleFunc("block", func(ctx context.Context, tk *tasks.Task) (any, error) {
			d, _ := ctx.Deadline()
			left.Store(tk.ID, time.Until(d))
			<-ctx.Done()
			return nil, context.Cause(ctx)
		})
		s.reg.HandleFunc("quick", func(ctx context.Context, tk *tasks.Task) (any, error) {
			d, _ := ctx.Deadline()
			left.Store(tk.ID, time.Until(d))
			time.Sleep(20 * time.Millisecond)
			return "ok", ctx.Err()
		})
		s.register(t) // queued before the pool starts: one batch
		short := 80 * time.Millisecond
		blocked := []uuid.UUID{
			s.submit(t, tasks.Request{Name: "block", Options: tasks.Options{Timeout: short, MaxRetries: tasks.NoRetries}}),
			s.submit(t, tasks.Request{Name: "block", Options: tasks.Options{Timeout: short, MaxRetries: tasks.NoRetries}}),
		}
		quick := s.submit(t, tasks.Request{Name: "quick", Options: tasks.Options{Timeout: short, MaxRetries: tasks.NoRetries}})
		long := s.submit(t, tasks.Request{Name: "quick", Options: tasks.Options{Timeout: time.Hour, MaxRetries: tasks.NoRetries}})
		s.startPool(t, tasks.PoolConfig{Concurrency: 10})
		for _, id := range blocked {
			if rec := s.wait(t, id); rec.Status != results.StatusFailed || !strings.Contains(rec.Error, "timed out after 80ms") {
				t.Errorf("block %s: %s, error %q; want failed, timed out after 80ms", id, rec.Status, rec.Error)
			}
		}
		for _, id := range []uuid.UUID{quick, long} {
			if rec := s.wait(t, id); rec.Status != results.StatusSucceeded {
				t.Errorf("quick %s: %s, error %q; want succeeded", id, rec.Status, rec.Error)
			}
		}
		for id, want := range map[uuid.UUID]time.Duration{blocked[0]: 80 * time.Millisecond, quick: 80 * time.Millisecond, long: time.Hour} {
			v, _ := left.Load(id)
			if got, _ := v.(time.Duration); got <= 0 || got > want || got < want-time.Second && want > time.Second {
				t.Errorf("task %s started with %v until its deadline, want at most %v (and close to it)", id, got, want)
			}
		}
	})
}

func TestPanicIsRecovered(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.reg.HandleFunc("explode", func(ctx context.Context, tk *tasks.Task) (any, error) {
			var m map[string]int
			//lint:ignore SA5000 the handler panics on purpose, as buggy code would
			m["x"] = 1
			return nil, nil
		})
		p, _ := s.startPool(t, tasks.PoolConfig{})
		rec := s.wait(t, s.submit(t, tasks.Request{Name: "explode", Options: tasks.Options{MaxRetries: tasks.NoRetries}}))
		if rec.Status != results.StatusFailed || !strings.Contains(rec.Error, "panic: assignment to entry in nil map") ||
			!strings.Contains(rec.Error, "goroutine ") {
			t.Fatalf("explode: %s, error %q; want failed with the panic and its stack", rec.Status, rec.Error)
		}
		if after := s.wait(t, s.submit(t, tasks.Request{Name: "echo", Payload: json.RawMessage(`1`)})); after.Status != results.StatusSucceeded {
			t.Fatalf("echo after a panic: %s, want succeeded (the pool keeps running)", after.Status)
		}
		if st := p.Stats(); st.Panics != 1 {
			t.Errorf("Stats().Panics = %d, want 1", st.Panics)
		}
	})
}

func TestUnencodableResult(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.reg.HandleFunc("chan", func(ctx context.Context, tk *tasks.Task) (any, error) {
			return make(chan int), nil
		})
		s.startPool(t, tasks.PoolConfig{})
		rec := s.wait(t, s.submit(t, tasks.Request{Name: "chan", Options: tasks.Options{MaxRetries: 3}}))
		if rec.Status != results.StatusFailed || rec.Attempts != 1 || !strings.Contains(rec.Error, "not JSON-encodable") {
			t.Fatalf("chan: %s after %d attempts, error %q; want failed at once, not JSON-encodable", rec.Status, rec.Attempts, rec.Error)
		}
	})
}

// TestCrashedWorkerTaskIsRedelivered claims a task as a worker that then
// vanishes (it never renews nor finishes); a live pool runs it once the
// lease expires.
func TestCrashedWorkerTaskIsRedelivered(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.register(t)
		id := s.submit(t, tasks.Request{Name: "echo", Payload: json.RawMessage(`"hi"`)})
		crashed := s.claim(t, tasks.DefaultQueue, 300*time.Millisecond)
		s.startPool(t, tasks.PoolConfig{VisibilityTimeout: 300 * time.Millisecond})
		rec := s.wait(t, id)
		if rec.Status != results.StatusSucceeded || rec.Attempts != 2 || rec.Crashes != 1 || string(rec.Result) != `"hi"` {
			t.Fatalf("redelivered task: %+v; want succeeded at attempt 2 after 1 crash", rec)
		}
		err := s.finish(broker.Finish{Claimed: &crashed, Outcome: broker.Failed, Error: "zombie"})
		if !errors.Is(err, broker.ErrLeaseLost) {
			t.Errorf("Finish by the crashed worker = %v, want ErrLeaseLost", err)
		}
	})
}

// TestLostLeaseCancelsHandler takes a running task's lease away (as a
// reaper on another machine would after a partition) and checks the
// handler is told, and its outcome discarded.
func TestLostLeaseCancelsHandler(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		started := make(chan struct{})
		cause := make(chan error, 1)
		s.reg.HandleFunc("long", func(ctx context.Context, tk *tasks.Task) (any, error) {
			close(started)
			<-ctx.Done()
			cause <- context.Cause(ctx)
			return "too late", nil
		})
		p, _ := s.startPool(t, tasks.PoolConfig{VisibilityTimeout: 400 * time.Millisecond})
		id := s.submit(t, tasks.Request{Name: "long"})
		<-started
		// Take the lease away as reap.lua does: its token and its set go.
		ctx := context.Background()
		v, err := s.be.Client.HGet(ctx, s.be.Keys.Task(id), redistest.FieldAttempt).Result()
		if err != nil {
			t.Fatal(err)
		}
		token, _, _ := strings.Cut(v, ",") // the attempt: "token,started_ms,number"
		if err := s.be.Client.ZRem(ctx, s.be.Keys.Leases(tasks.DefaultQueue), token).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.be.Client.Del(ctx, s.be.Keys.LeaseTasks(tasks.DefaultQueue, token)).Err(); err != nil {
			t.Fatal(err)
		}
		select {
		case c := <-cause:
			if !errors.Is(c, tasks.ErrLeaseLost) {
				t.Fatalf("handler cause = %v, want ErrLeaseLost", c)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("handler not cancelled 10s after its lease was taken")
		}
		until(t, "the lost attempt to be counted", func() bool { return p.Stats().LeaseLost == 1 })
		rec, err := s.client.Get(context.Background(), id)
		if err != nil || rec.Status != results.StatusRunning || rec.Result != nil {
			t.Errorf("record after a lost lease: %+v, %v; want still running with no result", rec, err)
		}
	})
}

func TestGracefulShutdownFinishesRunningTasks(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		_, stop := s.startPool(t, tasks.PoolConfig{Grace: 10 * time.Second})
		id := s.submit(t, tasks.Request{Name: "sleep", Payload: json.RawMessage(`{"ms":300}`)})
		s.untilRunning(t, id)
		stop()
		rec, err := s.client.Get(context.Background(), id)
		if err != nil || rec.Status != results.StatusSucceeded {
			t.Fatalf("after shutdown: %s, %v; want the running task succeeded before Run returned", rec.Status, err)
		}
	})
}

func TestShutdownAfterGraceHandsTasksBack(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		p, stop := s.startPool(t, tasks.PoolConfig{Grace: 50 * time.Millisecond})
		id := s.submit(t, tasks.Request{Name: "sleep", Payload: json.RawMessage(`{"ms":60000}`)})
		s.untilRunning(t, id)
		stop()
		if st := p.Stats(); st.Released != 1 {
			t.Fatalf("Stats().Released = %d, want 1", st.Released)
		}
		rec, _ := s.client.Get(context.Background(), id)
		if rec.Status != results.StatusQueued {
			t.Fatalf("after shutdown: %s, want queued again at once", rec.Status)
		}
		st, _ := s.b.Stats(context.Background(), tasks.DefaultQueue)
		if st.Pending != 1 || st.Leased != 0 {
			t.Fatalf("queue after shutdown: %+v, want the task pending, not leased", st)
		}
	})
}

func TestShutdownAbandonsHandlersIgnoringCancellation(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		s.reg.HandleFunc("stubborn", func(ctx context.Context, tk *tasks.Task) (any, error) {
			<-release // ignores ctx
			return "late", nil
		})
		_, stop := s.startPool(t, tasks.PoolConfig{Grace: 50 * time.Millisecond})
		id := s.submit(t, tasks.Request{Name: "stubborn"})
		s.untilRunning(t, id)
		stop()
		rec, _ := s.client.Get(context.Background(), id)
		if rec.Status != results.StatusQueued {
			t.Fatalf("after shutdown: %s, want queued (handed back though its handler still runs)", rec.Status)
		}
	})
}

func TestQueuesInPriorityOrder(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		var mu sync.Mutex
		var order []string
		s.reg.HandleFunc("note", func(ctx context.Context, tk *tasks.Task) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, tk.Queue)
			return nil, nil
		})
		s.register(t)
		var last []string
		for _, q := range []string{"low", "low", "high", "low", "high"} {
			last = append(last, s.submit(t, tasks.Request{Name: "note", Options: tasks.Options{Queue: q}}).String())
		}
		s.startPool(t, tasks.PoolConfig{Queues: []string{"high", "low"}, Concurrency: 1})
		for _, id := range last {
			s.wait(t, mustParse(t, id))
		}
		mu.Lock()
		defer mu.Unlock()
		if got := strings.Join(order, ","); got != "high,high,low,low,low" {
			t.Errorf("run order = %s, want high,high,low,low,low", got)
		}
	})
}

func TestConcurrencyLimit(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		var now, peak atomic.Int32
		s.reg.HandleFunc("count", func(ctx context.Context, tk *tasks.Task) (any, error) {
			n := now.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(20 * time.Millisecond)
			now.Add(-1)
			return nil, nil
		})
		s.register(t)
		var ids []string
		for range 30 {
			ids = append(ids, s.submit(t, tasks.Request{Name: "count"}).String())
		}
		s.startPool(t, tasks.PoolConfig{Concurrency: 4})
		for _, id := range ids {
			if rec := s.wait(t, mustParse(t, id)); rec.Status != results.StatusSucceeded {
				t.Fatalf("task %s: %s", id, rec.Status)
			}
		}
		if p := peak.Load(); p > 4 || p < 2 {
			t.Errorf("peak concurrent handlers = %d, want 2 to 4 with Concurrency 4", p)
		}
	})
}

func TestResultTTL(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.startPool(t, tasks.PoolConfig{})
		id := s.submit(t, tasks.Request{Name: "echo", Options: tasks.Options{ResultTTL: 2 * time.Second}})
		s.wait(t, id)
		ttl := s.be.Client.PTTL(context.Background(), s.be.Keys.Task(id)).Val()
		if ttl <= 0 || ttl > 2*time.Second {
			t.Fatalf("PTTL of a finished task = %v, want (0, 2s]", ttl)
		}
		if s.be.Mini == nil {
			return // a real Redis expires it in real time; the TTL is what we check
		}
		s.be.Mini.FastForward(3 * time.Second)
		if _, err := s.client.Get(context.Background(), id); !errors.Is(err, results.ErrNotFound) {
			t.Errorf("Get after the TTL = %v, want ErrNotFound", err)
		}
	})
}

func TestQueuedTasksDoNotExpire(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.register(t)
		id := s.submit(t, tasks.Request{Name: "echo"})
		if ttl := s.be.Client.PTTL(context.Background(), s.be.Keys.Task(id)).Val(); ttl != -1 {
			t.Errorf("PTTL of a queued task = %v, want -1 (no expiry)", ttl)
		}
	})
}

func TestCanceledTaskNeverRuns(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		var ran atomic.Int32
		s.reg.HandleFunc("count", func(ctx context.Context, tk *tasks.Task) (any, error) {
			ran.Add(1)
			return nil, nil
		})
		s.register(t)
		canceled := s.submit(t, tasks.Request{Name: "count"})
		if rec, err := s.client.Cancel(context.Background(), canceled); err != nil || rec.Status != results.StatusCanceled {
			t.Fatalf("Cancel = %s, %v; want canceled", rec.Status, err)
		}
		after := s.submit(t, tasks.Request{Name: "count"})
		s.startPool(t, tasks.PoolConfig{})
		s.wait(t, after)
		rec, _ := s.client.Get(context.Background(), canceled)
		if rec.Status != results.StatusCanceled || ran.Load() != 1 {
			t.Fatalf("canceled task: %s, handler ran %d times; want canceled and 1 run (the other task)", rec.Status, ran.Load())
		}
		if _, err := s.client.Cancel(context.Background(), after); !errors.Is(err, tasks.ErrFinished) {
			t.Errorf("Cancel(finished) = %v, want ErrFinished", err)
		}
	})
}

// TestHandlerIgnoringTimeoutIsAbandoned runs a handler that ignores its
// context on its first attempt: the attempt is failed and retried without
// it, the goroutine is counted as a zombie, and when it finally returns its
// outcome is discarded.
func TestHandlerIgnoringTimeoutIsAbandoned(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		release := make(chan struct{})
		var once sync.Once
		free := func() { once.Do(func() { close(release) }) }
		t.Cleanup(free)
		s.reg.HandleFunc("deaf", func(ctx context.Context, tk *tasks.Task) (any, error) {
			if tk.Attempt == 1 {
				<-release // ignores ctx
				return "zombie", nil
			}
			return "second", nil
		})
		p, _ := s.startPool(t, tasks.PoolConfig{VisibilityTimeout: 400 * time.Millisecond, Concurrency: 2})
		id := s.submit(t, tasks.Request{Name: "deaf", Options: tasks.Options{Timeout: 50 * time.Millisecond, MaxRetries: 1}})
		rec := s.wait(t, id)
		if rec.Status != results.StatusSucceeded || string(rec.Result) != `"second"` || rec.Attempts != 2 {
			t.Fatalf("deaf: %+v; want succeeded by attempt 2", rec)
		}
		// The second attempt's outcome is in Redis a moment before the pool
		// forgets the attempt.
		until(t, "the second attempt to be forgotten", func() bool { return p.Stats().Running == 1 })
		if st := p.Stats(); st.Abandoned != 1 || st.Zombies != 1 || st.Running != 1 {
			t.Fatalf("Stats() = %+v; want 1 abandoned, 1 zombie still running", st)
		}
		free()
		until(t, "the zombie to return", func() bool { return p.Stats().Running == 0 })
		rec, _ = s.client.Get(context.Background(), id)
		if string(rec.Result) != `"second"` {
			t.Errorf("result after the zombie returned = %s, want the second attempt's", rec.Result)
		}
	})
}

// TestRunWhileRunning: a pool runs once at a time.
func TestRunWhileRunning(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		p, _ := s.startPool(t, tasks.PoolConfig{})
		id := s.submit(t, tasks.Request{Name: "echo", Payload: json.RawMessage(`1`)})
		s.wait(t, id) // the first Run is under way
		if err := p.Run(context.Background()); !errors.Is(err, tasks.ErrPoolRunning) {
			t.Errorf("second Run = %v, want ErrPoolRunning", err)
		}
	})
}

// TestLostAttemptEndingAfterRunIsLetGo takes a running task's lease away,
// stops the pool while the handler, ignoring its cancellation, runs on,
// and lets the handler return after Run has returned. Its outcome cannot
// be written (the lease is gone, and so is the recorder), so the attempt
// must leave the running set and give back its place at once; it once
// stayed running until the pool ran again. The pool then runs again.
func TestLostAttemptEndingAfterRunIsLetGo(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		started, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		s.reg.HandleFunc("stubborn", func(ctx context.Context, tk *tasks.Task) (any, error) {
			once.Do(func() { close(started) })
			<-release // ignores ctx
			return "late", nil
		})
		p := s.pool(tasks.PoolConfig{VisibilityTimeout: 400 * time.Millisecond, Grace: 50 * time.Millisecond})
		s.register(t)
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		id := s.submit(t, tasks.Request{Name: "stubborn"})
		<-started
		v, err := s.be.Client.HGet(context.Background(), s.be.Keys.Task(id), redistest.FieldAttempt).Result()
		if err != nil {
			t.Fatal(err)
		}
		token, _, _ := strings.Cut(v, ",") // the attempt: "token,started_ms,number"
		s.be.Client.ZRem(context.Background(), s.be.Keys.Leases(tasks.DefaultQueue), token)
		s.be.Client.Del(context.Background(), s.be.Keys.LeaseTasks(tasks.DefaultQueue, token))
		until(t, "the attempt to count as a zombie", func() bool { return p.Stats().Zombies == 1 })
		stop()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v", err)
		}
		close(release)
		until(t, "the late attempt to leave the running set", func() bool { return p.Stats().Running == 0 })

		ctx2, stop2 := context.WithCancel(context.Background())
		defer stop2()
		go func() { done <- p.Run(ctx2) }()
		again := s.submit(t, tasks.Request{Name: "echo", Payload: json.RawMessage(`{"n":1}`)})
		until(t, "the pool, run again, to finish a task", func() bool {
			rec, err := s.client.Get(context.Background(), again)
			return err == nil && rec.Status == results.StatusSucceeded
		})
		stop2()
		if err := <-done; err != nil {
			t.Fatalf("second Run = %v", err)
		}
	})
}

// TestPoolStopsWhenItsRedisClientIsClosed closes the pool's Redis client
// under it while a handler runs: a closed client never opens again, so Run
// cancels the handler at once, without waiting its grace period (no outcome
// could be written), and returns the client's error instead of retrying
// forever.
func TestPoolStopsWhenItsRedisClientIsClosed(t *testing.T) {
	t.Parallel()
	be := redistest.Mini(t)
	rdb := redis.NewClient(&redis.Options{Addr: be.Mini.Addr()})
	reg := tasks.NewRegistry()
	builtin.Register(reg)
	p := tasks.NewPool(rdb, reg, tasks.PoolConfig{Prefix: be.Prefix, Logger: quiet(), Grace: time.Minute})
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	c := tasks.NewClient(be.Client, tasks.ClientConfig{Prefix: be.Prefix})
	defer c.Close()
	var rec results.Record
	until(t, "a long task to start", func() bool {
		if rec.ID == (uuid.UUID{}) {
			var err error
			if rec, err = tasks.Submit(context.Background(), c, "sleep", builtin.SleepIn{MS: 60_000}); err != nil {
				return false // the pool has not registered "sleep" yet
			}
		}
		got, err := c.Get(context.Background(), rec.ID)
		return err == nil && got.Status == results.StatusRunning
	})
	_ = rdb.Close()
	select {
	case err := <-done:
		if !errors.Is(err, redis.ErrClosed) {
			t.Errorf("Run after its client closed = %v, want redis.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run still running 10s after its Redis client was closed (its grace is a minute)")
	}
}
