package broker_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
)

// BenchmarkEnqueue measures Enqueue from 64 goroutines, which the group
// commit turns into shared script calls. ns/op is per task.
func BenchmarkEnqueue(b *testing.B) {
	for _, be := range redistest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			br := broker.New(be.Client, be.Prefix)
			ctx := context.Background()
			b.SetParallelism(32)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := br.Enqueue(ctx, []broker.NewTask{{Name: "echo", Queue: "q",
						Payload: []byte(`{"user":12345}`), MaxRetries: 3, Timeout: time.Minute, ResultTTL: time.Hour}}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkClaimFinish measures the worker's side: claiming 64 tasks
// (take.lua + start.lua) and finishing them with results (finish.lua, one
// call, as the pool's recorder makes it). ns/op is per task; enqueueing is
// not timed.
func BenchmarkClaimFinish(b *testing.B) {
	for _, be := range redistest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			br := broker.New(be.Client, be.Prefix)
			ctx := context.Background()
			batch := make([]broker.NewTask, 64)
			b.ReportAllocs()
			for done := 0; done < b.N; done += len(batch) {
				b.StopTimer()
				for i := range batch {
					batch[i] = broker.NewTask{Name: "echo", Queue: "q", Payload: []byte(`1`), ResultTTL: time.Hour}
				}
				if _, err := br.Enqueue(ctx, batch); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				_, taken, err := br.Take(ctx, "q", len(batch), time.Minute, "")
				if err != nil || taken == nil {
					b.Fatalf("Take = %v, %v", taken, err)
				}
				claimed, _, err := br.StartTake(ctx, taken, 0, time.Minute)
				if err != nil || len(claimed) != len(batch) {
					b.Fatalf("StartTake = %d, %v", len(claimed), err)
				}
				fs := make([]broker.Finish, len(claimed))
				for i := range claimed {
					fs[i] = broker.Finish{Claimed: &claimed[i], Outcome: broker.Succeeded, Result: []byte(`{"ok":true}`)}
				}
				if res, err := br.Finish(ctx, fs); err != nil || res[0] != nil {
					b.Fatalf("Finish = %v, %v", res, err)
				}
			}
		})
	}
}

// BenchmarkLoneTask measures a task's whole life when it travels alone, as
// at a steady low arrival rate: an enqueue, a take that starts it (the
// head a worker's wait saw) and a finish with a result, each one script
// call. It needs a real Redis (miniredis has no INFO commandstats) and
// reports, per task, from the server's commandstats: redis-µs/task, the
// time inside the three script calls; cmd-µs/task, the part of it in the
// commands they call; lua-µs/task, the rest (running the Lua and passing
// each call's arguments and reply between Lua and Redis); and
// calls/task, the commands the scripts call. The figures are the
// server's, so other clients of the same Redis inflate them.
func BenchmarkLoneTask(b *testing.B) {
	be, ok := redistest.Real(b)
	if !ok {
		b.Skip("needs REDIS_URL: miniredis has no INFO commandstats")
	}
	br := broker.New(be.Client, be.Prefix)
	ctx := context.Background()
	payload := []byte(`{"t":1796338984630351899,"p":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`) // 64 B
	before := scriptStats(ctx, b, be.Client)
	b.ResetTimer()
	for range b.N {
		ts := []broker.NewTask{{Name: "bench.lone", Queue: "q", Payload: payload}}
		if _, err := br.Enqueue(ctx, ts); err != nil {
			b.Fatal(err)
		}
		claimed, rest, err := br.Take(ctx, "q", 1, time.Minute, redistest.IDText(ts[0].ID))
		if err != nil || rest != nil || len(claimed) != 1 {
			b.Fatalf("Take = %d started, %v more, %v; want the head started", len(claimed), rest, err)
		}
		f := []broker.Finish{{Claimed: &claimed[0], Outcome: broker.Succeeded, Result: []byte(`{"ok":true}`)}}
		if res, err := br.Finish(ctx, f); err != nil || res[0] != nil {
			b.Fatalf("Finish = %v, %v", res, err)
		}
	}
	b.StopTimer()
	d := scriptStats(ctx, b, be.Client).minus(before)
	n := float64(b.N)
	b.ReportMetric(d.scriptUsec/n, "redis-µs/task")
	b.ReportMetric(d.innerUsec/n, "cmd-µs/task")
	b.ReportMetric((d.scriptUsec-d.innerUsec)/n, "lua-µs/task")
	b.ReportMetric(d.innerCalls/n, "calls/task")
}

// commandStats is the part of INFO commandstats a script benchmark reads:
// the time inside EVALSHA and EVAL calls, and the calls and time of every
// other command but INFO (for a benchmark that makes no calls of its own
// outside scripts, the commands its scripts called).
type commandStats struct{ scriptUsec, innerUsec, innerCalls float64 }

func (s commandStats) minus(o commandStats) commandStats {
	return commandStats{s.scriptUsec - o.scriptUsec, s.innerUsec - o.innerUsec, s.innerCalls - o.innerCalls}
}

func scriptStats(ctx context.Context, b *testing.B, rdb redis.UniversalClient) commandStats {
	b.Helper()
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	var s commandStats
	for _, line := range strings.Split(info, "\n") {
		name, v, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "cmdstat_"), ":")
		if !ok || name == "info" {
			continue
		}
		var calls, usec float64
		for _, kv := range strings.Split(v, ",") {
			k, x, _ := strings.Cut(kv, "=")
			switch k {
			case "calls":
				calls, _ = strconv.ParseFloat(x, 64)
			case "usec":
				usec, _ = strconv.ParseFloat(x, 64)
			}
		}
		if name == "evalsha" || name == "eval" {
			s.scriptUsec += usec
		} else {
			s.innerUsec += usec
			s.innerCalls += calls
		}
	}
	return s
}
