package tasks_test

import (
	"context"
	"testing"
	"time"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// BenchmarkBroadcastRoundTrip measures a broadcast task to three worker
// pools (Redis clients of their own) from Submit until Wait returns it
// ended: the read of the workers list, the enqueue, the event that wakes
// each pool, each start and answer, and the done notification. ns/op is
// that latency, one task at a time.
func BenchmarkBroadcastRoundTrip(b *testing.B) {
	for _, be := range redistest.Backends(b) {
		s := bundle{be: be, b: broker.New(be.Client, be.Prefix), reg: tasks.NewRegistry()}
		s.client = tasks.NewClient(be.Client, tasks.ClientConfig{ResultTTL: time.Hour, Prefix: be.Prefix, Logger: quiet()})
		b.Cleanup(func() { _ = s.client.Close() })
		b.Run(s.be.Name, func(b *testing.B) {
			f := &flushes{runs: map[int]int{}}
			for i := range 3 {
				flushPool(b, s, f, i, true)
			}
			untilLive(b, s, 3)
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				rec, err := s.client.Submit(ctx, tasks.Request{Name: "cache.flush", Payload: []byte(`{"fail":-1}`), Broadcast: true})
				if err != nil {
					b.Fatal(err)
				}
				if rec, err = s.client.Wait(ctx, rec.ID); err != nil || rec.Status != results.StatusSucceeded {
					b.Fatalf("Wait = %s, %v; want succeeded", rec.Status, err)
				}
			}
		})
	}
}
