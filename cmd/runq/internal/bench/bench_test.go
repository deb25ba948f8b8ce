package bench_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/cmd/runq/internal/bench"
)

// TestRunSmallBench runs every scenario at a tiny size on each backend and
// checks the report is complete and plausible, and that the bench deletes
// its keys.
func TestRunSmallBench(t *testing.T) {
	t.Parallel()
	_, err := os.Stat("/proc/stat")
	procStat := err == nil
	for _, be := range redistest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			rep, err := bench.Run(context.Background(), bench.Config{
				Client: be.Client, RedisURL: be.URL, Tasks: 300, Rates: []int{200}, RateFor: 500 * time.Millisecond, Waiters: 50,
				SteadyRates: []int{100}, SteadyFor: 300 * time.Millisecond, DueTasks: 200, DueOver: 500 * time.Millisecond,
				Embedded: be.Mini != nil, Prefix: benchPrefix(be),
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			want := []string{"enqueue, 1 producer(s)", "enqueue, 16 producer(s)", "enqueue, batches of 1000",
				"drain, no-op, conc 10", "drain, no-op, conc 50", "drain, no-op, conc 100", "drain, stores result, conc 10",
				"drain, stores result, conc 50", "drain, stores result, conc 100",
				"drain, stores result, conc 50, 64 B payload", "drain, stores result, conc 50, 1024 B payload",
				"drain, 3 queues in strict order, conc 50", "drain, 3 queues weighted 6:3:1, conc 50", "latency at 200/s, conc 50",
				"due -> start, 200 over 500ms, 1 pool(s)", "due -> start, 200 over 500ms, 4 pool(s)",
				"steady 100/s, Go client", "steady 100/s, HTTP", "steady 100/s, HTTP floor",
				"memory, queued, 64 B payload", "memory, queued, 1024 B payload", "memory, queued, 16384 B payload",
				"waiters, 50 long polls", "enqueue, 1 producer(s), bounded queue", "enqueue, 16 producer(s), bounded queue",
				"refused, 16 producer(s), full queue", "life: 16 producer(s) + drain c50", "life: batches of 1000 + drain c50"}
			if len(rep.Rows) != len(want) {
				t.Fatalf("%d rows, want %d: %+v", len(rep.Rows), len(want), rep.Rows)
			}
			rows := map[string]bench.Row{}
			for i, row := range rep.Rows {
				rows[row.Scenario] = row
				// Only this process's client counts round trips: an HTTP
				// steady row's submissions go through the API child.
				rtt := row.RoundTrips > 0 || strings.Contains(row.Scenario, "HTTP")
				if row.Scenario != want[i] || (row.TasksPerSec <= 0) != row.Life || !rtt {
					t.Errorf("row %d = %+v, want %q with positive round trips, and throughput unless a life", i, row, want[i])
				}
				// Throughput, latency and steady rows tell how often they
				// were measured, and, on a real Redis (INFO cpu) where
				// /proc/stat can be read, how busy other processes were.
				known := be.Mini == nil && procStat
				if i <= 18 && (row.Attempts < 1 || row.Attempts > 3 || known != (row.OtherCPU >= 0)) {
					t.Errorf("row %d = %+v: want 1-3 attempts, and other CPU known exactly on a real Redis with /proc/stat", i, row)
				}
			}
			for _, name := range []string{want[13], want[14], want[15], want[16], want[17]} {
				if lat := rows[name]; lat.P50ms <= 0 || lat.P99ms < lat.P50ms || lat.MaxMs < lat.P99ms {
					t.Errorf("%s = %+v: percentiles out of order", name, lat)
				}
			}
			checkSteady(t, rows[want[16]], rows[want[17]], be.Mini == nil && procStat)
			checkFloor(t, rows[want[18]], be.Mini == nil && procStat)
			checkDelayed(t, rows[want[14]], rows[want[15]])
			checkDrainSizes(t, rows, want[7:11])
			for _, name := range want[11:13] {
				if row := rows[name]; row.Tasks != 300 || row.Concurrency != 50 {
					t.Errorf("%s = %+v, want 300 tasks (100 a queue) at concurrency 50", name, row)
				}
			}
			if be.Mini == nil {
				checkMemory(t, rows, want[19:22])
				if rows[want[3]].Commands <= 0 || rows[want[3]].ReadsPerTask <= 0 {
					t.Errorf("on a real Redis the rows must carry commands and reads: %+v", rows[want[3]])
				}
			}
			for _, name := range want[26:] {
				life, enq, drain := rows[name], rows[want[1]], rows[want[7]]
				if name == want[27] {
					enq = rows[want[2]]
				}
				if life.RoundTrips != enq.RoundTrips+drain.RoundTrips || life.RedisCPUus != enq.RedisCPUus+drain.RedisCPUus {
					t.Errorf("%s = %+v, want the sums of %+v and %+v", name, life, enq, drain)
				}
			}
			if be.Mini != nil && !strings.Contains(rep.Note, "not representative") {
				t.Errorf("embedded run note = %q, want it labelled not representative", rep.Note)
			}
			if !strings.Contains(rep.Table(), "drain, stores result, conc 50") {
				t.Errorf("Table() lacks a row:\n%s", rep.Table())
			}
			if data, err := rep.JSON(); err != nil || !json.Valid(data) {
				t.Errorf("JSON() = %v", err)
			}
			checkNoKeysLeft(t, be, benchPrefix(be))
		})
	}
}

// checkDrainSizes checks that the drain rows at larger payloads are the
// drain at concurrency 50 storing a result, names[0], with tasks of the
// size their names give, names[2:], and that the small-payload drain at
// concurrency 100, names[1], still names no payload size.
func checkDrainSizes(t *testing.T, rows map[string]bench.Row, names []string) {
	t.Helper()
	base := rows[names[0]]
	if base.PayloadBytes != 0 || rows[names[1]].PayloadBytes != 0 {
		t.Errorf("%s and %s carry payload bytes %d and %d, want 0: their payload is the small default",
			names[0], names[1], base.PayloadBytes, rows[names[1]].PayloadBytes)
	}
	for i, size := range []int{64, 1024} {
		row := rows[names[2+i]]
		if row.PayloadBytes != size || row.Concurrency != 50 || !row.StoresResults || row.Tasks != base.Tasks {
			t.Errorf("%s = %+v, want %d tasks of %d B at concurrency 50 storing a result", names[2+i], row, base.Tasks, size)
		}
	}
}

// checkDelayed checks the delayed rows: every task measured, none started
// before its run_at, and lateness within the timing the maintainers keep
// (the test's tiny run leaves them no excuse for seconds).
func checkDelayed(t *testing.T, rows ...bench.Row) {
	t.Helper()
	for _, row := range rows {
		if row.Tasks != 200 || row.Concurrency != 50 || row.MaxMs > 2000 {
			t.Errorf("%s = %+v, want 200 tasks at concurrency 50, none over 2s late", row.Scenario, row)
		}
	}
}

// checkSteady checks the steady rows' own figures: the worker child's CPU
// and, over HTTP, the API child's, where /proc and INFO tell them.
func checkSteady(t *testing.T, goRow, httpRow bench.Row, known bool) {
	t.Helper()
	for _, row := range []bench.Row{goRow, httpRow} {
		if row.Steady == nil || row.Tasks != 30 || row.TargetRate != 100 || row.Steady.SubmitSeconds <= 0 {
			t.Errorf("%s = %+v, want 30 tasks at 100/s with the steady figures", row.Scenario, row)
			return
		}
		if known && (row.ReadsPerTask <= 0 || row.Commands <= 0 || row.Steady.IdleCommandsPerSec <= 0) {
			t.Errorf("%s = %+v %+v, want reads, commands and the idle worker's commands on a real Redis", row.Scenario, row, *row.Steady)
		}
	}
	if goRow.APICPUus != 0 || goRow.Steady.Path != "Go client" || httpRow.Steady.Path != "HTTP" {
		t.Errorf("steady rows %+v and %+v: want an API CPU only over HTTP", goRow, httpRow)
	}
}

// checkFloor checks the floor row: every request answered and pushed (the
// bench checks the list's length, or fails the row), Redis's CPU told
// where INFO tells it, and no latency, which it does not measure.
func checkFloor(t *testing.T, row bench.Row, known bool) {
	t.Helper()
	if row.Steady == nil || row.Steady.Path != "HTTP floor" || row.Tasks != 30 || row.TargetRate != 100 || row.P50ms != 0 {
		t.Errorf("%s = %+v, want 30 requests at 100/s with the steady figures and no latency", row.Scenario, row)
		return
	}
	// The floor child's CPU comes from /proc in clock ticks of 10 ms, which
	// 30 requests (about 8 ms of it) may not fill: it is not checked here.
	// Redis's comes from INFO in microseconds.
	if known && (row.RedisCPUus <= 0 || row.Commands < 1 || row.ReadsPerTask <= 0) {
		t.Errorf("%s = %+v, want Redis's CPU and at least one command per request on a real Redis", row.Scenario, row)
	}
}

// checkMemory checks that each memory row reports Redis's growth per
// task, at least its payload, and that minus the payload.
func checkMemory(t *testing.T, rows map[string]bench.Row, names []string) {
	t.Helper()
	for _, name := range names {
		row := rows[name]
		if row.UsedPerTask <= 0 || row.BytesPerTask != row.UsedPerTask-float64(row.PayloadBytes) {
			t.Errorf("%s = %+v, want used memory per task above 0, and bytes beyond the %d B payload", name, row, row.PayloadBytes)
		}
		// Payloads under 512 B are stored as sent; JSON records of 16 KiB
		// are stored compressed, in less than themselves.
		payload := float64(row.PayloadBytes)
		switch {
		case row.PayloadBytes < 512 && row.UsedPerTask <= payload:
			t.Errorf("%s: %.0f B per task, want more than the payload, which is stored as sent", name, row.UsedPerTask)
		case row.PayloadBytes >= 16384 && row.UsedPerTask >= payload:
			t.Errorf("%s: %.0f B per task, want less than the payload, which is stored compressed", name, row.UsedPerTask)
		}
	}
}

// benchPrefix is the bench's prefix in be: its scopes' keys start with it
// and a dash. It is the test's own, so that runs sharing a Redis do not
// see each other's keys.
func benchPrefix(be redistest.Backend) string { return "runqbench-" + be.Prefix }

// checkNoKeysLeft checks that the bench deleted every key it wrote, under
// its prefix (scopes of prefix) and the test's own.
func checkNoKeysLeft(t *testing.T, be redistest.Backend, prefix string) {
	t.Helper()
	if left := redistest.KeysUnder(context.Background(), t, be.Client, be.Prefix); len(left) != 0 {
		t.Errorf("keys left: %v", left)
	}
	var leftBench []string
	iter := be.Client.Scan(context.Background(), 0, prefix+"-*", 100).Iterator()
	for iter.Next(context.Background()) {
		leftBench = append(leftBench, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("SCAN for leftover keys: %v", err)
	}
	if len(leftBench) != 0 {
		t.Errorf("bench keys left behind: %v", leftBench)
	}
}
