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
			br := broker.New(be.Client, be.Keys)
			ctx := context.Background()
			b.SetParallelism(32)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id, _ := broker.NewID("q")
					if _, err := br.Enqueue(ctx, broker.NewTask{ID: id, Name: "echo", Queue: "q",
						Payload: []byte(`{"user":12345}`), MaxRetries: 3, Timeout: time.Minute, ResultTTL: time.Hour}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkClaimFinish measures the worker's side: claiming 64 tasks
// (take.lua + start.lua) and finishing them with results (finish.lua, one
// group-committed call). ns/op is per task; enqueueing is not timed.
func BenchmarkClaimFinish(b *testing.B) {
	for _, be := range redistest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			br := broker.New(be.Client, be.Keys)
			ctx := context.Background()
			batch := make([]broker.NewTask, 64)
			b.ReportAllocs()
			for done := 0; done < b.N; done += len(batch) {
				b.StopTimer()
				for i := range batch {
					id, _ := broker.NewID("q")
					batch[i] = broker.NewTask{ID: id, Name: "echo", Queue: "q", Payload: []byte(`1`), ResultTTL: time.Hour}
				}
				if _, err := br.EnqueueBatch(ctx, batch); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				claimed, err := br.Claim(ctx, "q", len(batch), time.Minute)
				if err != nil || len(claimed) != len(batch) {
					b.Fatalf("Claim = %d, %v", len(claimed), err)
				}
				errs := make(chan error, len(claimed))
				for i := range claimed {
					go func() {
						errs <- br.Finish(ctx, broker.Finish{Claimed: &claimed[i], Outcome: broker.Succeeded, Result: []byte(`{"ok":true}`)})
					}()
				}
				for range claimed {
					if err := <-errs; err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
