package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/runq/runq/api/internal/dashboard"
	"github.com/runq/runq/api/internal/parking"
	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// Tasks submits, reads, cancels and retries tasks, and describes queues,
// workers, handlers and schedules: a *tasks.Client.
type Tasks interface {
	Submit(ctx context.Context, r tasks.Request) (results.Record, error)
	SubmitBatch(ctx context.Context, rs []tasks.Request) ([]results.Record, error)
	ParkSubmit(rs []tasks.Request, refused error, deadline time.Time, fn func([]results.Record, error)) (cancel func() bool)
	Get(ctx context.Context, id uuid.UUID) (results.Record, error)
	Cancel(ctx context.Context, id uuid.UUID) (results.Record, error)
	Retry(ctx context.Context, id uuid.UUID) (results.Record, error)
	List(ctx context.Context, opts tasks.ListOptions) (tasks.TaskPage, error)
	Queues(ctx context.Context) ([]tasks.QueueInfo, error)
	Queue(ctx context.Context, name string) (tasks.QueueInfo, error)
	Purge(ctx context.Context, queue string, status results.Status) (int64, error)
	UpdateQueue(ctx context.Context, queue string, u tasks.QueueUpdate) (tasks.QueueSettings, error)
	Workers(ctx context.Context) ([]tasks.WorkerInfo, error)
	Handlers(ctx context.Context) ([]tasks.HandlerInfo, error)
	Schedules(ctx context.Context) ([]tasks.ScheduleInfo, error)
	RetryQueue(ctx context.Context, queue string, status results.Status) (int64, error)
	Events(ctx context.Context, id uuid.UUID, after string, fn func(tasks.TaskEvent) error) error
}

// Waiter waits for tasks to finish over one subscription: a
// *results.Watcher, whose Run must be running. Wait blocks; Park calls
// back, holding no goroutine per waiter; Read is a read batched with other
// reads, for bursts of long polls.
type Waiter interface {
	Read(ctx context.Context, id uuid.UUID) (results.Record, error)
	Wait(ctx context.Context, id uuid.UUID, timeout time.Duration) (results.Record, error)
	Park(id uuid.UUID, deadline time.Time, fn func(results.Record, error)) *results.Parked
}

// Health tells whether Redis serves runq and what it keeps: a
// *broker.Broker.
type Health interface {
	Ready(ctx context.Context) error
	Durability(ctx context.Context) (broker.Durability, error)
}

// Config configures the HTTP API. Zero values are the documented defaults.
type Config struct {
	// BodyLimit is the largest request body accepted, in bytes; 0 means
	// 1 MiB. Larger bodies get 413.
	BodyLimit int64
	// BatchBodyLimit is the largest body of POST /v1/tasks/batch; 0 means
	// 16 MiB.
	BatchBodyLimit int64
	// MaxWait caps ?wait= on GET /v1/tasks/{id}, and on POST /v1/tasks
	// and /v1/tasks/batch; 0 means 60s.
	MaxWait time.Duration
	// APIToken, when set, is required as "Authorization: Bearer <token>" on
	// every /v1 route and on /metrics (401 otherwise); /healthz and
	// /readyz stay open.
	APIToken string
	// Logger receives request errors; nil means slog.Default().
	Logger *slog.Logger
	// Metrics, when set, counts requests, submits and cancels, and is
	// served at GET /metrics (under APIToken); nil means no /metrics.
	Metrics Metrics
}

// Defaults of Config.
const (
	DefaultBodyLimit      = 1 << 20
	DefaultBatchBodyLimit = 16 << 20
	DefaultMaxWait        = 60 * time.Second
)

func (c Config) withDefaults() Config {
	if c.BodyLimit <= 0 {
		c.BodyLimit = DefaultBodyLimit
	}
	if c.BatchBodyLimit <= 0 {
		c.BatchBodyLimit = DefaultBatchBodyLimit
	}
	if c.MaxWait <= 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// server holds the API's dependencies; its handlers are its methods.
type server struct {
	cfg     Config
	tasks   Tasks
	waiter  Waiter
	health  Health
	hangups parking.Hangups // of parked long polls
	outages outageLog       // of 503s
	// streamWrite bounds one write of an event stream; 0 means
	// streamWriteTimeout (tests shorten it).
	streamWrite time.Duration
}

// New returns the API, an http.Handler: echo routes to handlers that
// decode each request, call t, w or h, and render the record or the error
// as JSON.
func New(cfg Config, t Tasks, w Waiter, h Health) *echo.Echo {
	s := &server{cfg: cfg.withDefaults(), tasks: t, waiter: w, health: h}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	// The peer address is the client: X-Forwarded-For and X-Real-IP are
	// not trusted, so a client cannot pose as another in logs or limits.
	e.IPExtractor = echo.ExtractIPDirect()
	e.Use(middleware.RequestID())
	if s.cfg.Metrics != nil {
		e.Use(observeRequests(s.cfg.Metrics))
		s.tasks = countingTasks{Tasks: t, m: s.cfg.Metrics}
		s.serveMetrics(e)
	}

	get := func(g interface {
		Match([]string, string, echo.HandlerFunc, ...echo.MiddlewareFunc) []*echo.Route
	}, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
		g.Match([]string{http.MethodGet, http.MethodHead}, path, h, m...) // HEAD wherever GET
	}
	get(e, "/healthz", s.healthz)
	get(e, "/readyz", s.readyz)
	dashboard.Register(e) // GET /: the web dashboard; its data comes from /v1
	get(e, "/openapi.json", openAPI)
	v1 := e.Group("/v1")
	if s.cfg.APIToken != "" {
		v1.Use(requireToken(s.cfg.APIToken))
	}
	v1.POST("/tasks", s.submit, bodyLimit(s.cfg.BodyLimit))
	v1.POST("/tasks/batch", s.submitBatch, bodyLimit(s.cfg.BatchBodyLimit))
	get(v1, "/tasks/:id", s.getTask, bodyLimit(s.cfg.BodyLimit))
	v1.DELETE("/tasks/:id", s.cancelTask, bodyLimit(s.cfg.BodyLimit))
	get(v1, "/tasks", s.listTasks, bodyLimit(s.cfg.BodyLimit))
	v1.POST("/tasks/:id/retry", s.retryTask, bodyLimit(s.cfg.BodyLimit))
	get(v1, "/queues", s.listQueues, bodyLimit(s.cfg.BodyLimit))
	get(v1, "/queues/:queue", s.getQueue, bodyLimit(s.cfg.BodyLimit))
	v1.POST("/queues/:queue/purge", s.purgeQueue, bodyLimit(s.cfg.BodyLimit))
	v1.PUT("/queues/:queue", s.updateQueue, bodyLimit(s.cfg.BodyLimit))
	v1.POST("/queues/:queue/pause", s.pauseQueue, bodyLimit(s.cfg.BodyLimit))
	v1.POST("/queues/:queue/resume", s.resumeQueue, bodyLimit(s.cfg.BodyLimit))
	get(v1, "/workers", s.listWorkers, bodyLimit(s.cfg.BodyLimit))
	get(v1, "/handlers", s.listHandlers, bodyLimit(s.cfg.BodyLimit))
	get(v1, "/schedules", s.listSchedules, bodyLimit(s.cfg.BodyLimit))
	v1.POST("/queues/:queue/retry", s.retryQueue, bodyLimit(s.cfg.BodyLimit))
	v1.GET("/tasks/:id/events", s.taskEvents, bodyLimit(s.cfg.BodyLimit))
	return e
}

// bodyLimit refuses a request body over n bytes with 413, in runq's words.
func bodyLimit(n int64) echo.MiddlewareFunc {
	limit := middleware.BodyLimit(strconv.FormatInt(n, 10) + "B")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		h := limit(next)
		return func(c echo.Context) error {
			err := h(c)
			var he *echo.HTTPError
			if errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge {
				return &apiError{status: he.Code, code: codeTooLarge, msg: fmt.Sprintf("request body over %d bytes", n)}
			}
			return err
		}
	}
}
