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

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/api"
	"github.com/runq/runq/api/metrics"
	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/embedded"
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
		emb, err := embedded.Start(cfg.embeddedAddr)
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
	rdb, err := broker.Open(openCtx, redisURL, PoolSize(cmd, len(cfg.queues)))
	cancelOpen()
	if errors.Is(err, broker.ErrBadURL) {
		return usage(fmt.Sprintf("--redis (REDIS_URL): %v", err))
	}
	if err != nil {
		return err
	}
	defer rdb.Close()
	b := broker.New(rdb, cfg.prefix)
	defer b.Close()
	log.Info("connected to redis", "redis", broker.Redact(redisURL), "prefix", cfg.prefix)
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
	// One registry for the process: in `all`, the API's /metrics shows
	// the worker's metrics too.
	mreg := metrics.NewRegistry(log)
	if cfg.metricsAddr != "" {
		ln, err := net.Listen("tcp", cfg.metricsAddr)
		if err != nil {
			return fmt.Errorf("metrics: listen on %s: %w", cfg.metricsAddr, err)
		}
		log.Info("worker metrics listening", "url", "http://"+ln.Addr().String()+"/metrics")
		start("metrics", func(ctx context.Context) error { return metrics.Serve(ctx, ln, metrics.Handler(mreg, b), log) })
	}
	if cmd != "serve" {
		pcfg := tasks.PoolConfig{
			Queues: cfg.queues, Weights: cfg.weights, Concurrency: cfg.concurrency, Grace: cfg.grace,
			VisibilityTimeout: cfg.visibility, MaxCrashes: cfg.maxCrashes, Prefix: cfg.prefix, Logger: log,
			FailedTTL: cfg.failedTTL, BatchWait: cfg.batchWait,
			WebhookSecret: cfg.webhookSecret, WebhookAllowPrivate: cfg.webhookAllowPrivate,
		}
		if cmd == "all" || cfg.metricsAddr != "" { // a worker alone keeps none unless asked
			pcfg.Observer = metrics.NewWorker(mreg)
		}
		pool := tasks.NewPool(rdb, reg, pcfg)
		// Record the names before the API opens, so that `all` accepts
		// its own tasks from its first request.
		if err := pool.Register(ctx); err != nil {
			return err
		}
		start("worker", pool.Run)
	}
	if cmd != "worker" {
		ln, err := net.Listen("tcp", cfg.addr)
		if err != nil {
			cancel(err)
			wg.Wait()
			return fmt.Errorf("listen on %s: %w", cfg.addr, err)
		}
		start("api", func(ctx context.Context) error { return serve(ctx, ln, cfg, rdb, b, mreg, log, stdout, reg) })
	}
	<-ctx.Done()
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// PoolSize is the Redis connection pool of a process running cmd (all,
// serve or worker) on that many queues; runq bench's steady worker uses
// the worker's. No
// handler holds a connection of its own (claims, outcomes and submissions
// are batched by one goroutine at a time), so it does not grow with
// --concurrency: 8 for the API (reads of records in flight, a submission
// flush, cancels), and for a worker 8 more (two claim loops, recorder,
// keeper, maintenance, and a wait per queue).
func PoolSize(cmd string, queues int) int {
	switch cmd {
	case "serve":
		return ServePoolSize
	case "worker":
		return 8 + queues
	}
	return 16 + queues
}

// ServePoolSize is the Redis connection pool of `serve`, which runq bench's
// waiters scenario gives the API it measures.
const ServePoolSize = 8

// serve runs the HTTP API on ln until ctx ends, then lets requests in flight
// finish (up to the longest wait plus a margin).
func serve(ctx context.Context, ln net.Listener, cfg config, rdb redis.UniversalClient, b *broker.Broker, mreg *metrics.Registry,
	log *slog.Logger, stdout io.Writer, reg *tasks.Registry) error {
	client := tasks.NewClient(rdb, tasks.ClientConfig{
		MaxRetries: retries(cfg.maxRetries), Timeout: cfg.timeout, ResultTTL: cfg.resultTTL, Prefix: cfg.prefix, Logger: log,
		IdempotencyTTL:      cfg.idempotencyTTL,
		WebhookAllowPrivate: cfg.webhookAllowPrivate,
	})
	defer client.Close()
	watcher := results.NewWatcher(b, log)
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	watched := make(chan struct{})
	defer func() { stopWatch(); <-watched }()
	go func() { defer close(watched); _ = watcher.Run(watchCtx) }()

	apiCfg := api.Config{BodyLimit: cfg.bodyLimit, BatchBodyLimit: 16 * cfg.bodyLimit, APIToken: cfg.apiToken, Logger: log,
		Metrics: metrics.NewAPI(mreg, client)}
	srv := api.NewHTTPServer(apiCfg, api.New(apiCfg, client, watcher, b))
	base := "http://" + ln.Addr().String()
	log.Info("runq API listening", "url", base)
	fmt.Fprintf(stdout, "runq API on %s\n", base)
	if h := hint(reachable(ln.Addr()), reg, cfg.apiToken != ""); h != "" {
		fmt.Fprintln(stdout, h)
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

// retries maps --max-retries, where 0 means none, to ClientConfig's
// MaxRetries, where 0 means unset.
func retries(n int) int {
	if n == 0 {
		return tasks.NoRetries
	}
	return n
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
