// Package metrics owns runq's Prometheus metrics: the API's and the
// workers' counters and histograms, the queue gauges read from Redis at
// scrape time, and the small HTTP server a worker process serves them on.
// It is the only package that imports Prometheus: tasks reports attempts
// through tasks.Observer and api through api.Metrics, so a program that
// asks for no metrics links none of them.
//
// Every metric is named runq_*. Its labels are bounded: queue and task
// names come from the handlers that workers register and the queues they
// are configured with (Redis refuses a task of an unregistered name), and
// HTTP requests are labelled by echo's route template ("/v1/tasks/:id"),
// never by the raw URL.
package metrics

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry holds one process's metrics: a private prometheus.Registry
// (never the process-global one, so two runq parts in one program, or two
// tests, do not collide), with the Go runtime and process collectors.
type Registry struct {
	reg *prometheus.Registry
	log *slog.Logger
}

// NewRegistry returns a Registry holding the Go and process collectors.
// log receives scrape errors; nil means slog.Default().
func NewRegistry(log *slog.Logger) *Registry {
	if log == nil {
		log = slog.Default()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return &Registry{reg: reg, log: log}
}

// maxScrapes bounds the scrapes answered at once: each may read Redis
// (see queueCollector), so a scraper gone wild cannot load it.
const maxScrapes = 4

// Handler serves the registry in Prometheus's text (or negotiated)
// format. A metric that fails to collect is logged and left out; the
// others are still served.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		ErrorLog:            slogPrinter{r.log},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: maxScrapes,
	})
}

// Gatherer returns the registry to read, for tests and tools.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// slogPrinter is promhttp's error logger, writing to slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	p.log.Warn("metrics scrape error", "err", fmt.Sprint(v...))
}

// durationBuckets are the histograms' bounds, in seconds: from 1 ms (a
// no-op task's run) to 1 h (a long task, or a long wait behind a backlog).
var durationBuckets = []float64{
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
}

// httpBuckets are the HTTP histogram's bounds, in seconds: from 1 ms to
// the longest long poll (?wait=, up to 60 s by default).
var httpBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
