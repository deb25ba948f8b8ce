package api

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// healthz answers while the process is up.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readiness is the body of /readyz.
type readiness struct {
	Status string `json:"status"`
	// Persistence is what Redis keeps across a restart ("none" means a
	// restart loses every queued task), or "unknown".
	Persistence string `json:"persistence"`
	// MaxmemoryPolicy is Redis's eviction policy; only noeviction keeps
	// queued tasks safe from eviction.
	MaxmemoryPolicy string `json:"maxmemory_policy"`
}

// readyz answers 200 when Redis answers a PING within two seconds, 503
// otherwise, and reports what Redis keeps.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.health.Ping(ctx); err != nil {
		s.cfg.Logger.Warn("readiness check failed", "err", err)
		return c.JSON(http.StatusServiceUnavailable, errorBody{Error: "redis unreachable"})
	}
	r := readiness{Status: "ready", Persistence: "unknown", MaxmemoryPolicy: "unknown"}
	if d, err := s.health.Durability(ctx); err == nil {
		r.Persistence, r.MaxmemoryPolicy = d.Persistence(), d.EvictionPolicy
	}
	return c.JSON(http.StatusOK, r)
}
