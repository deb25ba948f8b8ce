package metrics_test

import (
	"testing"
	"time"

	"github.com/runq/runq/api/metrics"
	"github.com/runq/runq/tasks"
)

// BenchmarkObserver measures what the worker metrics cost per attempt:
// one AttemptStarted and one AttemptEnded, as the pool calls them, over a
// few queues and names (the goal is at most 1 µs of CPU per task).
// Parallel runs them from every CPU at once, as a busy pool does.
func BenchmarkObserver(b *testing.B) {
	series := []struct{ queue, name string }{
		{"default", "echo"}, {"default", "image.resize"}, {"critical", "email.send"}, {"low", "report"},
	}
	b.Run("serial", func(b *testing.B) {
		w := metrics.NewWorker(metrics.NewRegistry(nil))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			s := series[i%len(series)]
			w.AttemptStarted(s.queue, s.name, 3*time.Millisecond)
			w.AttemptEnded(s.queue, s.name, tasks.AttemptSucceeded, 20*time.Millisecond)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		w := metrics.NewWorker(metrics.NewRegistry(nil))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				s := series[i%len(series)]
				w.AttemptStarted(s.queue, s.name, 3*time.Millisecond)
				w.AttemptEnded(s.queue, s.name, tasks.AttemptSucceeded, 20*time.Millisecond)
			}
		})
	})
}
