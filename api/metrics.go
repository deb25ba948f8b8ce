package api

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// Metrics counts what the API does and serves the count at GET /metrics:
// a *metrics.API (package api/metrics), which keeps Prometheus out of
// this package. Its methods are called on every request, concurrently.
type Metrics interface {
	// Handler serves a scrape.
	Handler() http.Handler
	// Request counts a request to route (echo's template, such as
	// "/v1/tasks/:id"; "unmatched" when no route matched) answered with
	// status after took.
	Request(method, route string, status int, took time.Duration)
	// Submitted counts a task of name queued on queue.
	Submitted(queue, name string)
	// Canceled counts a task of name on queue canceled.
	Canceled(queue, name string)
}

// statusClientGone labels a request whose client hung up before it was
// answered (nginx's "client closed request").
const statusClientGone = 499

// observeRequests counts each request by its route and the status it was
// answered with. It renders a handler's error itself, as the error handler
// would, to know that status. A parked long poll is counted when it is
// answered (answerParked), not when its handler returns.
func observeRequests(m Metrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			began := time.Now()
			err := next(c)
			if _, parked := c.Response().Writer.(hijacked); parked {
				return err
			}
			route := c.Path()
			if err == echo.ErrNotFound || route == "" { // echo's 404 names the nearest route
				route = "unmatched"
			}
			if err != nil {
				c.Error(err)
			}
			status := c.Response().Status
			if !c.Response().Committed { // nothing written: the client hung up
				status = statusClientGone
			}
			m.Request(c.Request().Method, route, status, time.Since(began))
			return nil
		}
	}
}

// countingTasks counts the tasks that Submit, SubmitBatch, ParkSubmit and
// Cancel queue and cancel; every other method is t's.
type countingTasks struct {
	Tasks
	m Metrics
}

func (t countingTasks) Submit(ctx context.Context, r tasks.Request) (results.Record, error) {
	rec, err := t.Tasks.Submit(ctx, r)
	if err == nil {
		t.m.Submitted(rec.Queue, rec.Name)
	}
	return rec, err
}

func (t countingTasks) SubmitBatch(ctx context.Context, rs []tasks.Request) ([]results.Record, error) {
	recs, err := t.Tasks.SubmitBatch(ctx, rs)
	if err == nil {
		for i := range recs {
			t.m.Submitted(recs[i].Queue, recs[i].Name)
		}
	}
	return recs, err
}

func (t countingTasks) ParkSubmit(rs []tasks.Request, refused error, deadline time.Time, fn func([]results.Record, error)) func() bool {
	return t.Tasks.ParkSubmit(rs, refused, deadline, func(recs []results.Record, err error) {
		if err == nil {
			for i := range recs {
				t.m.Submitted(recs[i].Queue, recs[i].Name)
			}
		}
		fn(recs, err)
	})
}

// Cancel counts every successful cancel, a resent DELETE of a task
// canceled before included: the record does not tell them apart.
func (t countingTasks) Cancel(ctx context.Context, id uuid.UUID) (results.Record, error) {
	rec, err := t.Tasks.Cancel(ctx, id)
	if err == nil {
		t.m.Canceled(rec.Queue, rec.Name)
	}
	return rec, err
}

// observeParked counts a parked request (a long poll, or a submission
// waiting for room) answered with status, parked at began, if the API
// keeps metrics.
func (s *server) observeParked(method, path string, status int, began time.Time) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.Request(method, path, status, time.Since(began))
	}
}

// serveMetrics registers GET /metrics (Prometheus scrapes with GET only),
// under the token when one is set (Prometheus sends it from its scrape
// config's authorization credentials).
func (s *server) serveMetrics(e *echo.Echo) {
	var auth []echo.MiddlewareFunc
	if s.cfg.APIToken != "" {
		auth = append(auth, requireToken(s.cfg.APIToken))
	}
	e.GET("/metrics", echo.WrapHandler(s.cfg.Metrics.Handler()), auth...)
}
