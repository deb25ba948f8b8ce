package client_test

import (
	"context"
	"log"
	"log/slog"
	"net/http/httptest"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/api"
	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/embedded"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
	"github.com/runq/runq/tasks/builtin"
)

var quiet = slog.New(slog.DiscardHandler)

// runAPI runs runq's HTTP API on rdb under prefix, in this process, with a
// worker pool of the built-in handlers on the default queue when pool is
// set (their names are registered either way). It returns the API's URL
// and a function that stops it all, rdb excepted.
func runAPI(rdb redis.UniversalClient, prefix string, cfg api.Config, pool bool) (url string, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	reg := tasks.NewRegistry()
	builtin.Register(reg)
	p := tasks.NewPool(rdb, reg, tasks.PoolConfig{Prefix: prefix, Logger: quiet})
	if err := p.Register(ctx); err != nil {
		log.Fatal(err)
	}
	c := tasks.NewClient(rdb, tasks.ClientConfig{Prefix: prefix, Logger: quiet})
	b := broker.New(rdb, prefix)
	w := results.NewWatcher(b, quiet)
	done := make(chan struct{}, 2)
	go func() {
		if pool {
			_ = p.Run(ctx)
		}
		done <- struct{}{}
	}()
	go func() { _ = w.Run(ctx); done <- struct{}{} }()
	cfg.Logger = quiet
	srv := httptest.NewServer(api.New(cfg, c, w, b))
	return srv.URL, func() {
		srv.Close()
		cancel()
		<-done
		<-done
		_ = c.Close()
	}
}

// startRunq runs what `go run ./cmd/runq` runs, in this process, for the
// examples: an embedded Redis, the HTTP API and a worker pool of the
// built-in handlers. It returns the API's URL and a function that stops it
// all.
func startRunq() (url string, stop func()) {
	srv, err := embedded.Start("127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	rdb, err := broker.Open(context.Background(), srv.URL(), 0)
	if err != nil {
		log.Fatal(err)
	}
	url, stopAPI := runAPI(rdb, "", api.Config{}, true)
	return url, func() {
		stopAPI()
		_ = rdb.Close()
		srv.Close()
	}
}
