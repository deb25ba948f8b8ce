package api

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/runq/runq/broker"
)

// healthz answers while the process is up.
func (s *server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readiness is the body of /readyz.
type readiness struct {
	Status string `json:"status"`          // "ready" or "unavailable"
	Error  string `json:"error,omitempty"` // why it is unavailable
	// Persistence is what Redis keeps across a restart ("none" means a
	// restart loses every queued task), or "unknown".
	Persistence string `json:"persistence,omitempty"`
	// MaxmemoryPolicy is Redis's eviction policy; only noeviction keeps
	// queued tasks safe from eviction.
	MaxmemoryPolicy string `json:"maxmemory_policy,omitempty"`
}

// readyz answers 200 when Redis takes a write within two seconds, and
// reports what it keeps; else 503 with the reason (unreachable, out of
// memory, a read-only replica...) and Retry-After.
func (s *server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.health.Ready(ctx); err != nil {
		why, ok := broker.Unavailable(err)
		if !ok {
			why = "Redis refuses runq's writes: " + public(err)
		}
		s.cfg.Logger.Warn("readiness check failed", "err", err)
		c.Response().Header().Set("Retry-After", retryAfter)
		return c.JSON(http.StatusServiceUnavailable, readiness{Status: "unavailable", Error: why})
	}
	r := readiness{Status: "ready", Persistence: "unknown", MaxmemoryPolicy: "unknown"}
	if d, err := s.health.Durability(ctx); err == nil {
		r.Persistence, r.MaxmemoryPolicy = d.Persistence(), d.EvictionPolicy
	}
	return c.JSON(http.StatusOK, r)
}
