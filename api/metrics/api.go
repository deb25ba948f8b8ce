package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// API counts what the HTTP API does: an api.Metrics, set as
// api.Config.Metrics, which serves its registry at GET /metrics.
type API struct {
	r                   *Registry
	submitted, canceled *prometheus.CounterVec
	requests            *prometheus.CounterVec
	duration            *prometheus.HistogramVec
}

// NewAPI registers the API's metrics on r, and the queue gauges read
// through q at scrape time when q is not nil, and returns them. It panics
// if r already has them (programmer error, as in MustRegister).
func NewAPI(r *Registry, q Queues) *API {
	a := &API{
		r: r,
		submitted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runq_tasks_submitted_total", Help: "Tasks queued through this API.",
		}, []string{"queue", "name"}),
		canceled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runq_tasks_canceled_total", Help: "Tasks canceled through this API (a resent cancel counts again).",
		}, []string{"queue", "name"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runq_http_requests_total",
			Help: "HTTP requests answered, by method, route template and status (499: the client hung up first).",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "runq_http_request_duration_seconds", Help: "Time to answer an HTTP request, long polls included.",
			Buckets: httpBuckets,
		}, []string{"method", "route"}),
	}
	r.reg.MustRegister(a.submitted, a.canceled, a.requests, a.duration)
	if q != nil {
		r.reg.MustRegister(newQueueCollector(q, r.log))
	}
	return a
}

// Handler serves a scrape of the API's registry.
func (a *API) Handler() http.Handler { return a.r.Handler() }

// Request counts a request to route answered with status after took.
func (a *API) Request(method, route string, status int, took time.Duration) {
	method = knownMethod(method)
	a.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	a.duration.WithLabelValues(method, route).Observe(took.Seconds())
}

// Submitted counts a task of name queued on queue.
func (a *API) Submitted(queue, name string) { a.submitted.WithLabelValues(queue, name).Inc() }

// Canceled counts a task of name on queue canceled.
func (a *API) Canceled(queue, name string) { a.canceled.WithLabelValues(queue, name).Inc() }

// knownMethod bounds the method label: a client may send any token as
// its method, and each would be a series.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}
