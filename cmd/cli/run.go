package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/runq/runq/api"
	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// run starts the parts cmd asks for and waits for them. The first part to
// fail stops the others.
func run(ctx context.Context, cmd string, cfg config, reg *tasks.Registry, log *slog.Logger, stdout io.Writer) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	redisURL := cfg.redisURL
	if redisURL == "" {
		emb, err := broker.StartEmbedded(cfg.embeddedAddr)
		if err != nil {
			return err
		}
		defer emb.Close()
		go func() { _ = emb.Run(ctx) }()
		redisURL = emb.URL()
		log.Warn("no --redis given: started an embedded Redis (miniredis); its data is lost at exit, and it is for trying runq, not for production",
			"redis", redisURL, "join_with", "--redis "+redisURL)
	}
	openCtx, cancelOpen := context.WithTimeout(ctx, 10*time.Second)
	rdb, err := broker.Open(openCtx, redisURL, poolSize(cmd, len(cfg.queues)))
	cancelOpen()
	if err != nil {
		return err
	}
	defer rdb.Close()
	b := broker.New(rdb, broker.Keys{})
	defer b.Close()
	log.Info("connected to redis", "redis", broker.Redact(redisURL))
	if cfg.redisURL != "" {
		if err := checkDurability(ctx, b, cfg, log); err != nil {
			return err
		}
	}

	var wg sync.WaitGroup
	start := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil {
				cancel(fmt.Errorf("%s: %w", name, err))
			}
		}()
	}
	if cmd != "serve" {
		// Record the names before the API opens, so that `all` accepts
		// its own tasks from its first request.
		if err := tasks.RegisterNames(ctx, b, reg); err != nil {
			return err
		}
		pool := tasks.NewPool(b, reg, tasks.PoolConfig{
			Queues: cfg.queues, Concurrency: cfg.concurrency, Grace: cfg.grace,
			VisibilityTimeout: cfg.visibility, MaxCrashes: cfg.maxCrashes,
			DefaultTimeout: cfg.taskTimeout, Logger: log,
		})
		start("worker", pool.Run)
	}
	if cmd != "worker" {
		ln, err := net.Listen("tcp", cfg.addr)
		if err != nil {
			cancel(err)
			wg.Wait()
			return fmt.Errorf("listen on %s: %w", cfg.addr, err)
		}
		start("api", func(ctx context.Context) error { return serve(ctx, ln, cfg, b, log, stdout, tryName(reg)) })
	}
	<-ctx.Done()
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// poolSize is the Redis connection pool of a process running cmd. No
// handler holds a connection of its own (claims, outcomes and submissions
// are batched by one goroutine at a time), so it does not grow with
// --concurrency: 8 for the API (reads of records in flight, a submission
// flush, cancels), and for a worker 8 more (two claim loops, recorder,
// keeper, maintenance, and a wait per queue).
func poolSize(cmd string, queues int) int {
	switch cmd {
	case "serve":
		return 8
	case "worker":
		return 8 + queues
	}
	return 16 + queues
}

// serve runs the HTTP API on ln until ctx ends, then lets requests in flight
// finish (up to the longest wait plus a margin).
func serve(ctx context.Context, ln net.Listener, cfg config, b *broker.Broker, log *slog.Logger, stdout io.Writer, try string) error {
	client := tasks.NewClient(b, tasks.ClientConfig{
		Queue: cfg.queues[0], MaxRetries: maxRetries(cfg.maxRetries), Timeout: cfg.taskTimeout, ResultTTL: cfg.resultTTL,
	})
	watcher := results.NewWatcher(results.NewStore(b.Client(), b.Keys()), log)
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	watched := make(chan struct{})
	defer func() { stopWatch(); <-watched }()
	go func() { defer close(watched); _ = watcher.Run(watchCtx) }()

	apiCfg := api.Config{BodyLimit: cfg.bodyLimit, APIToken: cfg.apiToken, Logger: log}
	srv := api.NewHTTPServer(apiCfg, api.New(apiCfg, client, watcher, b))
	addr := ln.Addr().String()
	log.Info("runq API listening", "url", "http://"+addr)
	fmt.Fprintf(stdout, "runq API on http://%s\n", addr)
	if try != "" {
		fmt.Fprintf(stdout, "try: curl -s -X POST http://%s/v1/tasks -H 'Content-Type: application/json' -d '{\"name\":%q,\"payload\":{\"hello\":\"world\"}}'\n", addr, try)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stopWatch() // long polls answer now with the current record
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.shutdownDelay)
	defer cancel()
	log.Info("API shutting down: finishing requests in flight")
	err := srv.Shutdown(shutCtx)
	// Parked long polls live on hijacked connections, which Shutdown does
	// not track: the watcher's Run returns once it has answered them all.
	select {
	case <-watched:
	case <-shutCtx.Done():
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// checkDurability refuses a Redis that may evict keys (it would drop queued
// tasks silently) unless --allow-eviction, and warns when nothing survives
// a Redis restart.
func checkDurability(ctx context.Context, b *broker.Broker, cfg config, log *slog.Logger) error {
	d, err := b.Durability(ctx)
	if err != nil {
		log.Warn("cannot read redis persistence and eviction settings; not checked", "err", err)
		return nil
	}
	if d.Evicts() {
		if !cfg.allowEviction {
			return fmt.Errorf("redis maxmemory-policy is %s: at maxmemory Redis would evict keys and lose queued tasks; "+
				"set it to noeviction (CONFIG SET maxmemory-policy noeviction), or pass --allow-eviction to accept the risk", d.EvictionPolicy)
		}
		log.Warn("redis may evict keys and lose queued tasks (--allow-eviction given)", "maxmemory_policy", d.EvictionPolicy)
	}
	if d.Persistence() == "none" {
		log.Warn("redis persistence is off: a Redis restart loses every queued task and result; enable appendonly yes")
	} else {
		log.Info("redis durability", "persistence", d.Persistence(), "maxmemory_policy", d.EvictionPolicy)
	}
	return nil
}

// tryName is the task name the start-up hint suggests: echo when this
// program handles it, else its first handler, else none.
func tryName(reg *tasks.Registry) string {
	names := reg.Names()
	for _, n := range names {
		if n == "echo" {
			return n
		}
	}
	if len(names) > 0 {
		return names[0]
	}
	return ""
}

// maxRetries maps the flag's 0 (no retries) to the client's NoRetries.
func maxRetries(n int) int {
	if n == 0 {
		return tasks.NoRetries
	}
	return n
}
