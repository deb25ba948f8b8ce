package broker_test

import (
	"context"
	"testing"
	"time"

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
