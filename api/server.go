package api

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// Submitter queues and cancels tasks (tasks.Client).
type Submitter interface {
	Submit(ctx context.Context, r tasks.Request) (results.Record, error)
	SubmitBatch(ctx context.Context, rs []tasks.Request) ([]results.Record, error)
	Cancel(ctx context.Context, id uuid.UUID) error
}

// Reader reads task records and waits for them (results.Watcher), blocking
// (Wait) or parked (Park: a callback, no goroutine per waiter). Read is Get
// batched with other reads, for bursts.
type Reader interface {
	Get(ctx context.Context, id uuid.UUID) (results.Record, error)
	Read(ctx context.Context, id uuid.UUID) (results.Record, error)
	Wait(ctx context.Context, id uuid.UUID, timeout time.Duration) (results.Record, error)
	Park(id uuid.UUID, deadline time.Time, fn func(results.Record, error)) *results.Parked
}

// Health reports whether the store is reachable and what it keeps
// (broker.Broker).
type Health interface {
	Ping(ctx context.Context) error
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
	// MaxWait caps ?wait= on GET /v1/tasks/{id}; 0 means 60s.
	MaxWait time.Duration
	// APIToken, when set, is required as "Authorization: Bearer <token>" on
	// every /v1 route (401 otherwise); /healthz and /readyz stay open.
	APIToken string
	// Logger receives request errors; nil means slog.Default().
	Logger *slog.Logger
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

// Server holds the API's dependencies; its handlers are its methods.
type Server struct {
	cfg     Config
	tasks   Submitter
	results Reader
	health  Health
	hangups hangups // of parked long polls
}

// New returns the API as an http.Handler-compatible *echo.Echo.
func New(cfg Config, t Submitter, r Reader, h Health) *echo.Echo {
	s := &Server{cfg: cfg.withDefaults(), tasks: t, results: r, health: h}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	// The peer address is the client: X-Forwarded-For and X-Real-IP are
	// not trusted, so a client cannot pose as another in logs or limits.
	e.IPExtractor = echo.ExtractIPDirect()
	e.Use(middleware.RequestID())
	limit := func(n int64) echo.MiddlewareFunc { return middleware.BodyLimit(strconv.FormatInt(n, 10) + "B") }

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	v1 := e.Group("/v1")
	if s.cfg.APIToken != "" {
		v1.Use(requireToken(s.cfg.APIToken))
	}
	v1.POST("/tasks", s.submit, limit(s.cfg.BodyLimit))
	v1.POST("/tasks/batch", s.submitBatch, limit(s.cfg.BatchBodyLimit))
	v1.GET("/tasks/:id", s.getTask, limit(s.cfg.BodyLimit))
	v1.DELETE("/tasks/:id", s.cancelTask, limit(s.cfg.BodyLimit))
	return e
}
