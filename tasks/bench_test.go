package tasks_test

import (
	"context"
	"testing"
	"time"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/tasks"
)

// BenchmarkPoolDrain measures a worker pool of concurrency 50 draining
// queued tasks whose handler returns a small result: claim, run, record.
// ns/op is per task; enqueueing is not timed. Its CPU profile is the
// worker's hot path (go test -bench PoolDrain -cpuprofile).
func BenchmarkPoolDrain(b *testing.B) {
	for _, be := range redistest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			br := broker.New(be.Client, be.Keys)
			reg := tasks.NewRegistry()
			reg.HandleFunc("noop", func(context.Context, *tasks.Task) (any, error) { return 1, nil })
			ctx := context.Background()
			if err := tasks.RegisterNames(ctx, br, reg); err != nil {
				b.Fatal(err)
			}
			batch := make([]broker.NewTask, 0, 1000)
			for i := 0; i < b.N; i += len(batch) {
				batch = batch[:0]
				for j := i; j < b.N && len(batch) < cap(batch); j++ {
					id, _ := broker.NewID("q")
					batch = append(batch, broker.NewTask{ID: id, Name: "noop", Queue: "q",
						Payload: []byte(`{"n":1}`), ResultTTL: time.Hour})
				}
				if _, err := br.EnqueueBatch(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			pool := tasks.NewPool(br, reg, tasks.PoolConfig{Queues: []string{"q"}, Concurrency: 50, Logger: quiet()})
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			b.ReportAllocs()
			b.ResetTimer()
			go func() { done <- pool.Run(runCtx) }()
			for pool.Stats().Succeeded < int64(b.N) {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			stop()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			if s := pool.Stats(); s.Succeeded != int64(b.N) || s.Failed+s.Retried+s.LeaseLost != 0 {
				b.Fatalf("Stats = %+v, want %d succeeded and nothing else", s, b.N)
			}
		})
	}
}
