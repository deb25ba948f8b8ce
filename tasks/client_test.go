package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
	"github.com/runq/runq/tasks/builtin"
)

func TestSubmitRefusesBadRequestsAndWritesNothing(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.register(t)
		before := redistest.KeysUnder(context.Background(), t, s.be.Client, s.be.Prefix)
		tests := []struct {
			name string
			r    tasks.Request
			want error
		}{
			{"no name", tasks.Request{}, tasks.ErrInvalid},
			{"bad name", tasks.Request{Name: "a b"}, tasks.ErrInvalid},
			{"unknown name", tasks.Request{Name: "nobody.handles.this"}, tasks.ErrUnknownName},
			{"bad queue", tasks.Request{Name: "echo", Options: tasks.Options{Queue: "a{b}"}}, tasks.ErrInvalid},
			{"bad payload", tasks.Request{Name: "echo", Payload: json.RawMessage("{")}, tasks.ErrInvalid},
			{"negative retries", tasks.Request{Name: "echo", Options: tasks.Options{MaxRetries: -2}}, tasks.ErrInvalid},
			{"too many retries", tasks.Request{Name: "echo", Options: tasks.Options{MaxRetries: 1001}}, tasks.ErrInvalid},
			{"long timeout", tasks.Request{Name: "echo", Options: tasks.Options{Timeout: 25 * time.Hour}}, tasks.ErrInvalid},
			{"short ttl", tasks.Request{Name: "echo", Options: tasks.Options{ResultTTL: time.Millisecond}}, tasks.ErrInvalid},
			{"huge payload", tasks.Request{Name: "echo", Payload: json.RawMessage(`"` + strings.Repeat("x", tasks.MaxPayload) + `"`)}, tasks.ErrInvalid},
		}
		for _, tt := range tests {
			if _, err := s.client.Submit(context.Background(), tt.r); !errors.Is(err, tt.want) {
				t.Errorf("Submit(%s) = %v, want %v", tt.name, err, tt.want)
			}
		}
		// A batch is refused whole, naming its first bad request.
		for _, tt := range []struct {
			rs   []tasks.Request
			want error
			says string
		}{
			{[]tasks.Request{{Name: "echo"}, {Name: "fail"}, {Name: "nobody.a"}, {Name: "nobody.b"}}, tasks.ErrUnknownName, `tasks[2]: tasks: no worker handles this task name: "nobody.a"`},
			{[]tasks.Request{{Name: "nobody.a"}, {Name: "echo", Payload: json.RawMessage("[")}}, tasks.ErrInvalid, "tasks[1]: "},
		} {
			_, err := s.client.SubmitBatch(context.Background(), tt.rs)
			if !errors.Is(err, tt.want) || !strings.Contains(fmt.Sprint(err), tt.says) {
				t.Errorf("SubmitBatch(%d tasks) = %v, want %v saying %q", len(tt.rs), err, tt.want, tt.says)
			}
		}
		after := redistest.KeysUnder(context.Background(), t, s.be.Client, s.be.Prefix)
		if strings.Join(after, ",") != strings.Join(before, ",") {
			t.Errorf("keys changed by refused submissions: before %v, after %v", before, after)
		}
	})
}

func TestSubmitDefaults(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.reg.HandleFunc("slowpoke", func(ctx context.Context, tk *tasks.Task) (any, error) { return nil, nil },
			tasks.HandlerOptions{MaxRetries: 7, Timeout: time.Minute})
		s.register(t)
		// Another process's client, which has not seen these names yet.
		client := tasks.NewClient(s.be.Client, tasks.ClientConfig{Queue: "jobs", Prefix: s.be.Prefix})
		defer client.Close()
		tests := []struct {
			r            tasks.Request
			queue        string
			retries      int
			timeout, ttl time.Duration
		}{
			{tasks.Request{Name: "echo"}, "jobs", tasks.DefaultMaxRetries, tasks.DefaultTimeout, tasks.DefaultResultTTL},
			{tasks.Request{Name: "slowpoke"}, "jobs", 7, time.Minute, tasks.DefaultResultTTL},
			{tasks.Request{Name: "fail"}, "jobs", 0, tasks.DefaultTimeout, tasks.DefaultResultTTL},
			{tasks.Request{Name: "slowpoke", Options: tasks.Options{Queue: "q2", MaxRetries: tasks.NoRetries, Timeout: time.Second, ResultTTL: time.Minute}}, "q2", 0, time.Second, time.Minute},
		}
		for _, tt := range tests {
			rec, err := client.Submit(context.Background(), tt.r)
			if err != nil {
				t.Fatalf("Submit(%+v): %v", tt.r, err)
			}
			stored := s.get(t, rec.ID)
			for _, got := range []results.Record{rec, stored} {
				if got.Queue != tt.queue || got.MaxRetries != tt.retries || got.Timeout != tt.timeout ||
					got.ResultTTL != tt.ttl || got.Status != results.StatusQueued || string(got.Payload) != "null" {
					t.Errorf("Submit(%s): %+v; want queue %s, retries %d, timeout %v, ttl %v", tt.r.Name, got, tt.queue, tt.retries, tt.timeout, tt.ttl)
				}
			}
		}
	})
}

// TestClientWaitsWithOneSubscription runs 200 waits on one task at once:
// every one is answered once the task finishes, and the client holds a
// handful of Redis connections meanwhile, not one per wait.
func TestClientWaitsWithOneSubscription(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.startPool(t, tasks.PoolConfig{})
		id := s.submit(t, tasks.Request{Name: "sleep", Payload: json.RawMessage(`{"ms":300}`)})
		const waiters = 200
		got := make(chan results.Record, waiters)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for range waiters {
			go func() {
				rec, err := s.client.Wait(ctx, id)
				if err != nil {
					t.Errorf("Wait: %v", err)
				}
				got <- rec
			}()
		}
		for range waiters {
			if rec := <-got; rec.Status != results.StatusSucceeded || string(rec.Result) != `{"slept_ms":300}` {
				t.Fatalf("Wait = %s %s, want succeeded {\"slept_ms\":300}", rec.Status, rec.Result)
			}
		}
		if n := s.be.Client.PoolStats().TotalConns; n > 20 {
			t.Errorf("%d connections in the pool after %d waits, want a few", n, waiters)
		}
	})
}

func TestClientWaitEnds(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.register(t)
		id := s.submit(t, tasks.Request{Name: "echo"})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		rec, err := s.client.Wait(ctx, id)
		if !errors.Is(err, context.DeadlineExceeded) || rec.ID != id || rec.Status != results.StatusQueued {
			t.Errorf("Wait past its deadline = %s %s, %v; want the queued record and DeadlineExceeded", rec.ID, rec.Status, err)
		}
		if _, err := s.client.Wait(context.Background(), uuid.New()); !errors.Is(err, tasks.ErrNotFound) {
			t.Errorf("Wait(unknown) = %v, want ErrNotFound", err)
		}
		type answer struct {
			rec results.Record
			err error
		}
		done := make(chan answer, 1)
		go func() { rec, err := s.client.Wait(context.Background(), id); done <- answer{rec, err} }()
		until(t, "the Wait to be in progress", func() bool { return tasks.Waiting(s.client) == 1 })
		if err := s.client.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case a := <-done:
			// Only a Wait already in progress has read the record.
			if !errors.Is(a.err, tasks.ErrClosed) || a.rec.ID != id || a.rec.Status != results.StatusQueued {
				t.Errorf("Wait cut short by Close = %s %s, %v; want the queued record and ErrClosed", a.rec.ID, a.rec.Status, a.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Wait still blocked 10s after Close")
		}
		ctx = context.Background()
		_, werr := s.client.Wait(ctx, id)
		_, gerr := s.client.Get(ctx, id)
		_, serr := s.client.Submit(ctx, tasks.Request{Name: "echo"})
		_, cerr := s.client.Cancel(ctx, id)
		for i, err := range []error{werr, gerr, serr, cerr} {
			if !errors.Is(err, tasks.ErrClosed) {
				t.Errorf("call %d (Wait, Get, Submit, Cancel) after Close = %v, want ErrClosed", i, err)
			}
		}
		if err := s.client.Close(); err != nil {
			t.Errorf("second Close = %v, want nil", err)
		}
	})
}

func TestClientCancel(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.register(t)
		id := s.submit(t, tasks.Request{Name: "echo"})
		for range 2 { // a second cancel is the same: idempotent
			rec, err := s.client.Cancel(context.Background(), id)
			if err != nil || rec.Status != results.StatusCanceled || rec.FinishedAt.IsZero() {
				t.Fatalf("Cancel = %+v, %v; want the canceled record", rec, err)
			}
		}
		if _, err := s.client.Cancel(context.Background(), uuid.New()); !errors.Is(err, tasks.ErrNotFound) {
			t.Errorf("Cancel(unknown) = %v, want ErrNotFound", err)
		}
		running := s.submit(t, tasks.Request{Name: "sleep", Payload: json.RawMessage(`{"ms":60000}`)})
		s.startPool(t, tasks.PoolConfig{Grace: 10 * time.Millisecond})
		s.untilRunning(t, running)
		if rec, err := s.client.Cancel(context.Background(), running); err != nil || rec.Status == results.StatusSucceeded || rec.CancelRequestedAt.IsZero() {
			t.Errorf("Cancel(running) = %+v, %v; want it running (or canceled already) with CancelRequestedAt", rec, err)
		}
	})
}

type addIn struct {
	A, B int
}

type addOut struct {
	Sum int `json:"sum"`
}

func TestTypedSubmitAndResult(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		tasks.Handle(s.reg, "add", func(ctx context.Context, tk *tasks.Task, in addIn) (addOut, error) {
			return addOut{Sum: in.A + in.B}, nil
		})
		s.startPool(t, tasks.PoolConfig{})
		ctx := context.Background()
		rec, err := tasks.Submit(ctx, s.client, "add", addIn{A: 2, B: 40}, tasks.Options{Queue: tasks.DefaultQueue, MaxRetries: tasks.NoRetries})
		if err != nil || rec.MaxRetries != 0 || string(rec.Payload) != `{"A":2,"B":40}` {
			t.Fatalf("Submit = %+v, %v", rec, err)
		}
		if _, err := tasks.Result[addOut](rec); !errors.Is(err, tasks.ErrNotFinished) {
			t.Errorf("Result of a queued task = %v, want ErrNotFinished", err)
		}
		out, err := tasks.Result[addOut](s.wait(t, rec.ID))
		if err != nil || out.Sum != 42 {
			t.Errorf("Result = %+v, %v; want sum 42", out, err)
		}
		failed := s.wait(t, s.submit(t, tasks.Request{Name: "fail", Payload: json.RawMessage(`{"message":"nope"}`)}))
		if _, err := tasks.Result[addOut](failed); !errors.Is(err, tasks.ErrFailed) || !strings.Contains(err.Error(), "nope") {
			t.Errorf("Result of a failed task = %v, want ErrFailed naming its error", err)
		}
		if _, err := tasks.Result[addOut](results.Record{Status: results.StatusCanceled}); !errors.Is(err, tasks.ErrCanceled) {
			t.Errorf("Result of a canceled task = %v, want ErrCanceled", err)
		}
		if _, err := tasks.Result[addOut](results.Record{Status: results.StatusSucceeded, Result: json.RawMessage(`"x"`)}); err == nil {
			t.Error(`Result[addOut] of "x" = nil error, want one`)
		}
		if _, err := tasks.Submit(ctx, s.client, "add", func() {}); !errors.Is(err, tasks.ErrInvalid) {
			t.Errorf("Submit of a func = %v, want ErrInvalid", err)
		}
		if _, err := tasks.Submit(ctx, s.client, "add", addIn{}, tasks.Options{}, tasks.Options{}); !errors.Is(err, tasks.ErrInvalid) {
			t.Errorf("Submit with two Options = %v, want ErrInvalid", err)
		}
	})
}

func TestConnect(t *testing.T) {
	t.Parallel()
	be := redistest.Mini(t)
	ctx := context.Background()
	c, err := tasks.Connect(ctx, be.URL, tasks.ClientConfig{Prefix: be.Prefix})
	if err != nil {
		t.Fatalf("Connect(%s) = %v", be.URL, err)
	}
	if _, err := c.Get(ctx, uuid.New()); !errors.Is(err, tasks.ErrNotFound) {
		t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if _, err := tasks.Connect(ctx, "http://nope", tasks.ClientConfig{}); err == nil || errors.Is(err, tasks.ErrUnavailable) {
		t.Errorf("Connect(http URL) = %v, want a bad URL error", err)
	}
	be.Mini.Close()
	if _, err := tasks.Connect(ctx, be.URL, tasks.ClientConfig{}); !errors.Is(err, tasks.ErrUnavailable) {
		t.Errorf("Connect(a stopped Redis) = %v, want ErrUnavailable", err)
	}
	// A bad configuration is refused before any connection is tried.
	for _, cfg := range []tasks.ClientConfig{
		{Queue: "a queue"}, {Prefix: "run{q}"}, {Prefix: "run q"}, {MaxRetries: -2}, {Timeout: -time.Second},
	} {
		if _, err := tasks.Connect(ctx, be.URL, cfg); !errors.Is(err, tasks.ErrInvalid) {
			t.Errorf("Connect(%+v) = %v, want ErrInvalid", cfg, err)
		}
	}
}

func TestNewPanicsOnBadPrefix(t *testing.T) {
	t.Parallel()
	be := redistest.Mini(t)
	for name, fn := range map[string]func(){
		"NewClient": func() { tasks.NewClient(be.Client, tasks.ClientConfig{Prefix: "{x}"}) },
		"NewPool":   func() { tasks.NewPool(be.Client, tasks.NewRegistry(), tasks.PoolConfig{Prefix: "a b"}) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "prefix") {
					t.Errorf("%s with a bad prefix: recovered %v, want a panic naming the prefix", name, r)
				}
			}()
			fn()
		}()
	}
}

// TestSubmitToARedisRefusingWrites checks that a Redis that refuses writes
// (out of memory, a replica, ...) is ErrUnavailable, with its reason.
func TestSubmitToARedisRefusingWrites(t *testing.T) {
	t.Parallel()
	for reply, why := range map[string]string{
		"OOM command not allowed when used memory > 'maxmemory'.":                                          "out of memory",
		"READONLY You can't write against a read only replica.":                                            "read-only replica",
		"MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.": "cannot save to disk",
		"LOADING Redis is loading the dataset in memory":                                                   "loading",
	} {
		be := redistest.Mini(t)
		s := bundle{be: be, reg: tasks.NewRegistry()}
		builtin.Register(s.reg)
		s.register(t)
		rdb := redis.NewClient(&redis.Options{Addr: be.Mini.Addr()})
		redistest.RefuseWrites(rdb, reply)
		c := tasks.NewClient(rdb, tasks.ClientConfig{Prefix: be.Prefix})
		_, err := c.Submit(context.Background(), tasks.Request{Name: "echo"})
		if !errors.Is(err, tasks.ErrUnavailable) || !strings.Contains(err.Error(), why) {
			t.Errorf("Submit when Redis replies %q = %v, want ErrUnavailable saying %q", reply, err, why)
		}
		_ = c.Close()
		_ = rdb.Close()
	}
}
