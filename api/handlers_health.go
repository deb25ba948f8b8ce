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

// readyz answers 200 when Redis answers a PING within two seconds, 503
// otherwise.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.health.Ping(ctx); err != nil {
		s.cfg.Logger.Warn("readiness check failed", "err", err)
		return c.JSON(http.StatusServiceUnavailable, errorBody{Error: "redis unreachable"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}
