package bench_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/cmd/internal/cli"
	"github.com/runq/runq/cmd/runq/internal/bench"
	"github.com/runq/runq/tasks"
)

// TestMain lets the bench re-run this test binary as its children, as
// `runq bench` re-runs runq: the waiters scenario's HTTP client, the steady
// rows' worker, and `serve`, their API.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		os.Exit(cli.Main(tasks.NewRegistry()))
	}
	if bench.IsChild() {
		if err := bench.RunChild(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestWaiters parks 200 long polls on the API from a child process, finishes
// their tasks (every tenth fails), and checks that every poll was answered
// with its own task's status and result (the scenario fails otherwise),
// over one subscription. Timing and memory are not checked. It counts the
// process's goroutines, so neither it nor its subtests run in parallel
// with other tests (it failed so once, beside TestRunSmallBench).
func TestWaiters(t *testing.T) {
	const n = 200
	for _, be := range redistest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			rep, err := bench.Run(context.Background(), bench.Config{
				Client: be.Client, Waiters: n, Only: []string{"waiters"}, Embedded: be.Mini != nil, Prefix: "runqbench-waiters",
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if len(rep.Rows) != 1 || rep.Rows[0].Waiters == nil {
				t.Fatalf("rows = %+v, want one waiters row", rep.Rows)
			}
			w := rep.Rows[0].Waiters
			// Run fails on any wrong or missing answer, so what is left to
			// check is what the scenario is for: what parked polls cost.
			if w.Goroutines >= n/2 {
				t.Errorf("goroutines +%d with %d polls parked, want well under one per poll", w.Goroutines, n)
			}
			if w.PoolTimeouts != 0 {
				t.Errorf("%d server commands timed out waiting for a Redis connection, want 0", w.PoolTimeouts)
			}
			if w.Subscribers != 1 {
				t.Errorf("done-channel subscribers = %d, want 1 (the watcher's)", w.Subscribers)
			}
			if be.Mini == nil && (w.RedisConns < 1 || w.RedisPubSub != 1) {
				t.Errorf("server connections %d (%d pub/sub), want at least 1 with exactly 1 subscribed", w.RedisConns, w.RedisPubSub)
			}
			if be.Mini == nil && w.RedisPeak > cli.ServePoolSize+1 {
				t.Errorf("server connections peaked at %d, want at most its pool (%d) and the subscriber", w.RedisPeak, cli.ServePoolSize)
			}
			if !strings.Contains(rep.Table(), "200 answered right") {
				t.Errorf("Table() lacks the waiters line:\n%s", rep.Table())
			}
			iter := be.Client.Scan(context.Background(), 0, "runqbench-waiters-*", 100).Iterator()
			for iter.Next(context.Background()) {
				t.Errorf("bench key left behind: %s", iter.Val())
			}
			if err := iter.Err(); err != nil {
				t.Errorf("SCAN for leftover keys: %v", err)
			}
		})
	}
}
