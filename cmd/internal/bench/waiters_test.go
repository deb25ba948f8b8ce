package bench_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/cmd/internal/bench"
)

// TestMain lets the waiters scenario re-run this test binary as its HTTP
// client, as `runq bench` re-runs runq.
func TestMain(m *testing.M) {
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
// over one subscription. Timing and memory are not checked.
func TestWaiters(t *testing.T) {
	t.Parallel()
	const n = 200
	for _, be := range redistest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			rep, err := bench.Run(context.Background(), bench.Config{
				Client: be.Client, Waiters: n, Only: []string{"waiters"}, Embedded: be.Mini != nil, Prefix: "runqbench-waiters",
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if len(rep.Rows) != 1 || rep.Rows[0].Waiters == nil {
				t.Fatalf("rows = %+v, want one waiters row", rep.Rows)
			}
			row, w := rep.Rows[0], rep.Rows[0].Waiters
			if row.Scenario != "waiters, 200 long polls" || row.Tasks != n || w.Answered != n {
				t.Errorf("row %q: %d tasks, %d answered right; want %d of %d", row.Scenario, row.Tasks, w.Answered, n, n)
			}
			if w.Subscribers != 1 {
				t.Errorf("done-channel subscribers = %d, want 1 (the watcher's)", w.Subscribers)
			}
			if be.Mini == nil && (w.RedisConns < 1 || w.RedisPubSub != 1) {
				t.Errorf("server connections %d (%d pub/sub), want at least 1 with exactly 1 subscribed", w.RedisConns, w.RedisPubSub)
			}
			if !(row.P50ms <= row.P99ms && row.P99ms <= row.MaxMs) {
				t.Errorf("wake-up delays p50 %v p99 %v max %v: out of order", row.P50ms, row.P99ms, row.MaxMs)
			}
			if !strings.Contains(rep.Table(), "200 answered right") {
				t.Errorf("Table() lacks the waiters line:\n%s", rep.Table())
			}
			iter := be.Client.Scan(context.Background(), 0, "runqbench-waiters-*", 100).Iterator()
			for iter.Next(context.Background()) {
				t.Errorf("bench key left behind: %s", iter.Val())
			}
		})
	}
}
