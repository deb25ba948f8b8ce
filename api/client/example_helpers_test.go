package client_test

import (
	"context"
	"log"
	"log/slog"
	"net/http/httptest"

	"github.com/runq/runq/api"
	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/embedded"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
	"github.com/runq/runq/tasks/builtin"
)

// startRunq runs what `go run ./cmd/runq` runs, in this process, for the
// examples: an embedded Redis, the HTTP API and a worker pool of the
// built-in handlers. It returns the API's URL and a function that stops it
// all.
func startRunq() (url string, stop func()) {
	redis, err := embedded.Start("127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	quiet := slog.New(slog.DiscardHandler)
	c, err := tasks.Connect(ctx, redis.URL(), tasks.ClientConfig{Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	reg := tasks.NewRegistry()
	builtin.Register(reg)
	pool := tasks.NewPool(c.Redis(), reg, tasks.PoolConfig{Logger: quiet})
	if err := pool.Register(ctx); err != nil {
		log.Fatal(err)
	}
	b := broker.New(c.Redis(), "")
	w := results.NewWatcher(b, quiet)
	done := make(chan struct{}, 2)
	go func() { _ = pool.Run(ctx); done <- struct{}{} }()
	go func() { _ = w.Run(ctx); done <- struct{}{} }()
	srv := httptest.NewServer(api.New(api.Config{Logger: quiet}, c, w, b))
	return srv.URL, func() {
		srv.Close()
		cancel()
		<-done
		<-done
		_ = c.Close()
		redis.Close()
	}
}
