package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/runq/runq/broker"
)

// Readiness tells whether Redis serves runq now: a *broker.Broker.
type Readiness interface {
	Ready(ctx context.Context) error
}

// readyTimeout bounds /readyz's check of Redis, as the API's /readyz.
const readyTimeout = 2 * time.Second

// Handler returns the routes a worker process serves on --metrics-addr:
// GET /metrics (r's scrape), /healthz (200 while the process is up) and
// /readyz (200 when Redis takes a write through ready, else 503 with the
// reason). It asks no token: serve it on a private address.
func Handler(r *Registry, ready Readiness) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", r.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), readyTimeout)
		defer cancel()
		err := ready.Ready(ctx)
		if err == nil {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
			return
		}
		why, ok := broker.Unavailable(err)
		if !ok {
			why = "Redis refuses runq's writes"
		}
		r.log.Warn("readiness check failed", "err", err)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": why})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Serve serves h on ln until ctx ends, then shuts down, letting a scrape
// in flight finish for up to five seconds. It returns nil after a
// shutdown, else the server's error.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      QueueTimeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
