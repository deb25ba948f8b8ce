package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// canceler returns a Client of its own connection to s's Redis: the cancel
// comes from elsewhere than the pool that runs the task, as from another
// process.
func (s bundle) canceler(t *testing.T) *tasks.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rdb, err := broker.Open(ctx, s.be.URL, 4)
	if err != nil {
		t.Fatal(err)
	}
	c := tasks.NewClient(rdb, tasks.ClientConfig{Prefix: s.be.Prefix, Logger: quiet()})
	t.Cleanup(func() { _ = c.Close(); _ = rdb.Close() })
	return c
}

// TestCancelRunningTask cancels a running task from another client: the
// handler's context ends with cause ErrCanceled, and the task ends
// canceled after its one attempt, not retried; also when the handler
// ignores the cancel (it is abandoned), and when the worker missed the
// event (it reads the cancels as it renews its leases).
func TestCancelRunningTask(t *testing.T) {
	tests := []struct {
		name   string
		ignore bool // the handler ignores its context
		missed bool // the cancel is written without its event
	}{
		{name: "handler returns"},
		{name: "handler ignores the cancel", ignore: true},
		{name: "event missed", missed: true},
	}
	each(t, func(t *testing.T, s bundle) {
		type ended struct {
			at    time.Time
			cause error
		}
		ends := make(chan ended, len(tests))
		release := make(chan struct{})
		defer close(release)
		s.reg.HandleFunc("cancelme", func(ctx context.Context, tk *tasks.Task) (any, error) {
			var ignore bool
			_ = json.Unmarshal(tk.Payload, &ignore)
			if ignore {
				<-release
				return "done anyway", nil
			}
			<-ctx.Done()
			ends <- ended{time.Now(), context.Cause(ctx)}
			return nil, ctx.Err()
		})
		pool, _ := s.startPool(t, tasks.PoolConfig{VisibilityTimeout: 800 * time.Millisecond, Concurrency: 4})
		other := s.canceler(t)
		for _, tt := range tests {
			id := s.submit(t, tasks.Request{Name: "cancelme", Payload: payload(t, tt.ignore)})
			s.untilRunning(t, id)
			asked := time.Now()
			if tt.missed {
				markCancel(t, s, id)
			} else {
				rec, err := other.Cancel(context.Background(), id)
				// Canceled already, when the worker was quicker than the
				// read of the record that follows the cancel.
				if err != nil || rec.Status != results.StatusRunning && rec.Status != results.StatusCanceled || rec.CancelRequestedAt.IsZero() {
					t.Fatalf("%s: Cancel = %+v, %v; want running (or canceled) with CancelRequestedAt", tt.name, rec, err)
				}
			}
			if !tt.ignore {
				select {
				case e := <-ends:
					lat := e.at.Sub(asked)
					t.Logf("%s: %s: handler context canceled %v after the cancel", s.be.Name, tt.name, lat)
					if !errors.Is(e.cause, tasks.ErrCanceled) {
						t.Errorf("%s: context.Cause = %v, want ErrCanceled", tt.name, e.cause)
					}
					if lat > 2*time.Second {
						t.Errorf("%s: handler context canceled %v after the cancel, want well under 2s", tt.name, lat)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("%s: handler context not canceled in 10s", tt.name)
				}
			}
			rec := s.wait(t, id)
			if rec.Status != results.StatusCanceled || rec.Attempts != 1 || rec.Error != "" || rec.CancelRequestedAt.IsZero() {
				t.Errorf("%s: Wait = %+v, want canceled after 1 attempt, no error, CancelRequestedAt set", tt.name, rec)
			}
		}
		time.Sleep(100 * time.Millisecond) // a retry would be due after 10ms
		st := pool.Stats()
		if st.Canceled != int64(len(tests)) || st.Retried != 0 || st.Failed != 0 || st.Abandoned != 1 {
			t.Errorf("Stats = %+v, want %d canceled, 1 abandoned, none retried or failed", st, len(tests))
		}
	})
}

// markCancel writes a cancel of running task id as cancel.lua does, but
// announces nothing, as when the worker's subscription was down.
func markCancel(t *testing.T, s bundle, id uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	now, err := s.be.Client.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	ms := now.UnixMilli()
	key := s.be.Keys.Task(id)
	if err := s.be.Client.HSet(ctx, key, redistest.FieldCancel, ms).Err(); err != nil {
		t.Fatal(err)
	}
	member := redis.Z{Score: float64(ms), Member: redistest.IDText(id)}
	if err := s.be.Client.ZAdd(ctx, s.be.Keys.Cancels(tasks.DefaultQueue), member).Err(); err != nil {
		t.Fatal(err)
	}
}
