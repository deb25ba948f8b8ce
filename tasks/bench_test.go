package tasks_test

import (
	"context"
	"testing"
	"time"

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
			reg := tasks.NewRegistry()
			reg.HandleFunc("noop", func(context.Context, *tasks.Task) (any, error) { return 1, nil })
			ctx := context.Background()
			pool := tasks.NewPool(be.Client, reg, tasks.PoolConfig{Queues: []string{"q"}, Concurrency: 50, Prefix: be.Prefix, Logger: quiet()})
			if err := pool.Register(ctx); err != nil {
				b.Fatal(err)
			}
			client := tasks.NewClient(be.Client, tasks.ClientConfig{Queue: "q", ResultTTL: time.Hour, Prefix: be.Prefix})
			defer client.Close()
			batch := make([]tasks.Request, 0, tasks.MaxBatch)
			for i := 0; i < b.N; i += len(batch) {
				batch = batch[:0]
				for j := i; j < b.N && len(batch) < cap(batch); j++ {
					batch = append(batch, tasks.Request{Name: "noop", Payload: []byte(`{"n":1}`)})
				}
				if _, err := client.SubmitBatch(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
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
