package outages

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/cmd/internal/proctest"
	"github.com/runq/runq/tasks"
)

// workArgs is the payload of the test's "fault.work" task.
type workArgs struct {
	MS int `json:"ms"` // how long the handler works, unless cancelled
}

// execution is one handler run, as the handler saw it.
type execution struct {
	id        string
	worker    int
	planned   time.Duration
	start     time.Time
	end       time.Time // zero while running
	cancelled time.Time // when its context ended, if it did before the work was done
	cause     error     // context.Cause at that moment
}

// recorder registers "fault.work" handlers that record every execution.
type recorder struct {
	mu    sync.Mutex
	execs []*execution
}

// register adds the handler to reg, labelling its executions with worker.
func (r *recorder) register(reg *tasks.Registry, worker int) {
	tasks.Handle(reg, "fault.work", func(ctx context.Context, t *tasks.Task, in workArgs) (map[string]int, error) {
		e := &execution{id: t.ID.String(), worker: worker, planned: time.Duration(in.MS) * time.Millisecond, start: time.Now()}
		r.mu.Lock()
		r.execs = append(r.execs, e)
		r.mu.Unlock()
		timer := time.NewTimer(e.planned)
		defer timer.Stop()
		select {
		case <-timer.C:
			r.finish(e, time.Time{}, nil)
			return map[string]int{"worked_ms": in.MS}, nil
		case <-ctx.Done():
			cause := context.Cause(ctx)
			r.finish(e, time.Now(), cause)
			return nil, cause
		}
	})
}

func (r *recorder) finish(e *execution, cancelled time.Time, cause error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.end, e.cancelled, e.cause = time.Now(), cancelled, cause
}

// snapshot returns a copy of every execution so far.
func (r *recorder) snapshot() []execution {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]execution, len(r.execs))
	for i, e := range r.execs {
		out[i] = *e
	}
	return out
}

// runningAt returns the executions that had started and not ended at t.
func runningAt(execs []execution, t time.Time) []execution {
	var out []execution
	for _, e := range execs {
		if e.start.Before(t) && (e.end.IsZero() || e.end.After(t)) {
			out = append(out, e)
		}
	}
	return out
}

// duplicates returns the executions beyond the first of each task.
func duplicates(execs []execution) int {
	seen := make(map[string]bool)
	dup := 0
	for _, e := range execs {
		if seen[e.id] {
			dup++
		}
		seen[e.id] = true
	}
	return dup
}

// openRedis connects to the Redis at url with room for poolSize
// connections; the client is closed at cleanup.
func openRedis(t testing.TB, url string, poolSize int) *redis.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rdb, err := broker.Open(ctx, url, poolSize)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// register records reg's task names in the Redis of rdb, as a worker does
// at start.
func register(t testing.TB, rdb redis.UniversalClient, reg *tasks.Registry) {
	t.Helper()
	if err := tasks.NewPool(rdb, reg, tasks.PoolConfig{}).Register(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// runPool runs pool until the returned stop is called, which waits up to
// 30s for Run to return; cleanup calls it too.
func runPool(t testing.TB, pool *tasks.Pool) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = pool.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Errorf("pool still running 30s after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// testLogger returns a logger writing to a buffer, whose last lines are
// logged if the test fails.
func testLogger(t testing.TB, name string) *slog.Logger {
	t.Helper()
	buf := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s logs (last lines):\n%s", name, tail(buf.String(), 40))
		}
	})
	return slog.New(slog.NewTextHandler(buf, nil))
}

// statuses reads the status of every task in ids, directly from Redis; a
// task with no hash has status "".
func statuses(ctx context.Context, rdb redis.UniversalClient, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	sts, err := proctest.Statuses(ctx, broker.New(rdb, ""), ids)
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]string, len(ids))
	for i, id := range ids {
		out[id] = string(sts[i])
	}
	return out, nil
}

// waitTerminal polls the statuses of ids every 200ms until all are
// terminal or within runs out, and returns the last statuses read.
func waitTerminal(t testing.TB, rdb redis.UniversalClient, ids []uuid.UUID, within time.Duration) map[uuid.UUID]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last map[uuid.UUID]string
	for {
		st, err := statuses(ctx, rdb, ids)
		if err == nil {
			last = st
			if countStatus(st, "succeeded", "failed", "canceled") == len(ids) {
				return st
			}
		}
		select {
		case <-ctx.Done():
			return last
		case <-tick.C:
		}
	}
}

// countStatus counts the tasks in st whose status is one of want.
func countStatus(st map[uuid.UUID]string, want ...string) int {
	n := 0
	for _, s := range st {
		for _, w := range want {
			if s == w {
				n++
				break
			}
		}
	}
	return n
}
