package metrics

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/runq/runq/tasks"
)

// Worker counts a worker pool's attempts: a tasks.Observer, set as
// PoolConfig.Observer. Its metrics are labelled by queue and task name.
type Worker struct {
	started, succeeded, failed, retried, released *prometheus.CounterVec
	running                                       *prometheus.GaugeVec
	wait, run                                     *prometheus.HistogramVec

	// series caches the metrics of each queue and name, so that an attempt
	// costs two map reads rather than six label lookups (each hashes its
	// labels and takes a lock). The map is replaced, never changed, so a read
	// takes no lock; mu serialises the rare writers (a new queue or name).
	series atomic.Pointer[map[seriesKey]*series]
	mu     sync.Mutex
}

type seriesKey struct{ queue, name string }

// series is the metrics of one queue and task name.
type series struct {
	started, succeeded, failed, retried, released prometheus.Counter
	running                                       prometheus.Gauge // the queue's
	wait, run                                     prometheus.Observer
}

var _ tasks.Observer = (*Worker)(nil)

// NewWorker registers the worker metrics on r and returns their Observer.
// It panics if r already has them (programmer error, as in MustRegister).
func NewWorker(r *Registry) *Worker {
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"queue", "name"})
	}
	histogram := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: durationBuckets}, []string{"queue", "name"})
	}
	w := &Worker{
		started:   counter("runq_tasks_started_total", "Attempts started by this worker."),
		succeeded: counter("runq_tasks_succeeded_total", "Attempts that succeeded."),
		failed:    counter("runq_tasks_failed_total", "Attempts that failed the task for good (no retries left, or a skip-retry error)."),
		retried:   counter("runq_tasks_retried_total", "Attempts that failed and scheduled a retry."),
		released:  counter("runq_tasks_released_total", "Attempts handed back to their queue unfinished (worker shutdown or lost lease)."),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "runq_tasks_running", Help: "Attempts running in this worker now.",
		}, []string{"queue"}),
		wait: histogram("runq_task_queue_wait_seconds",
			"Time from a task's creation to the start of an attempt; for a retry it includes the earlier attempts and backoff."),
		run: histogram("runq_task_run_seconds", "Time an attempt ran, from its start to its outcome."),
	}
	r.reg.MustRegister(w.started, w.succeeded, w.failed, w.retried, w.released, w.running, w.wait, w.run)
	w.series.Store(&map[seriesKey]*series{})
	return w
}

// AttemptStarted counts an attempt of name on queue that waited so long.
func (w *Worker) AttemptStarted(queue, name string, waited time.Duration) {
	s := w.of(queue, name)
	s.started.Inc()
	s.running.Inc()
	s.wait.Observe(waited.Seconds())
}

// AttemptEnded counts the end of an attempt of name on queue that ran so
// long.
func (w *Worker) AttemptEnded(queue, name string, outcome tasks.AttemptOutcome, ran time.Duration) {
	s := w.of(queue, name)
	s.running.Dec()
	s.run.Observe(ran.Seconds())
	switch outcome {
	case tasks.AttemptSucceeded:
		s.succeeded.Inc()
	case tasks.AttemptRetried:
		s.retried.Inc()
	case tasks.AttemptReleased:
		s.released.Inc()
	case tasks.AttemptCanceled: // neither failed nor retried: the client asked for it
	default:
		s.failed.Inc()
	}
}

// of returns the metrics of queue and name, made on first use.
func (w *Worker) of(queue, name string) *series {
	if s := (*w.series.Load())[seriesKey{queue, name}]; s != nil {
		return s
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	old := *w.series.Load()
	k := seriesKey{queue, name}
	if s := old[k]; s != nil {
		return s
	}
	s := &series{
		started: w.started.WithLabelValues(queue, name), succeeded: w.succeeded.WithLabelValues(queue, name),
		failed: w.failed.WithLabelValues(queue, name), retried: w.retried.WithLabelValues(queue, name),
		released: w.released.WithLabelValues(queue, name), running: w.running.WithLabelValues(queue),
		wait: w.wait.WithLabelValues(queue, name), run: w.run.WithLabelValues(queue, name),
	}
	next := make(map[seriesKey]*series, len(old)+1)
	for key, v := range old {
		next[key] = v
	}
	next[k] = s
	w.series.Store(&next)
	return s
}
