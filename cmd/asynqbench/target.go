package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// asynqPattern matches every key asynq writes: its global keys
// ("asynq:queues", "asynq:servers", ...) and its per-queue keys
// ("asynq:{default}:...").
const asynqPattern = "asynq:*"

// bench holds what every measurement shares: the flags, the connection
// options of the target database, and an unhooked monitoring client that
// reads INFO and cleans up.
type bench struct {
	cfg  config
	opts *redis.Options
	mon  *redis.Client
	log  io.Writer // progress lines

	settleLeft time.Duration // what remains of --settle
}

// newBench returns a bench for the checked options; every connection it
// opens is named asynqbench.
func newBench(cfg config, opts *redis.Options, log io.Writer) *bench {
	opts.ClientName = clientName
	b := &bench{cfg: cfg, opts: opts, log: log, settleLeft: cfg.settle}
	b.mon = b.newClient(nil)
	return b
}

// newClient returns a fresh go-redis client with asynq's RedisClientOpt
// defaults (pool of 10 connections per CPU), counting its round trips and
// script calls in tc (nil counts only its dials).
func (b *bench) newClient(tc *tripCounter) *redis.Client {
	if tc == nil {
		tc = &tripCounter{}
	}
	o := *b.opts
	c := redis.NewClient(&o)
	c.AddHook(tc)
	return c
}

// loopbackOptions parses a redis:// URL and refuses anything but a loopback
// host with an explicit database number: the benchmark must never touch
// another machine or database 0 by accident.
func loopbackOptions(raw string) (*redis.Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("--redis %q: %w", raw, err)
	}
	if u.Scheme != "redis" {
		return nil, fmt.Errorf("--redis %q: want a redis:// URL", raw)
	}
	if strings.Trim(u.Path, "/") == "" {
		return nil, fmt.Errorf("--redis %q: name the database explicitly, e.g. redis://127.0.0.1:6379/9", raw)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("--redis %q: host %q is not a loopback address", raw, host)
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("--redis %q: %w", raw, err)
	}
	return opts, nil
}

// requireEmpty refuses a database that holds any key: asynqbench deletes
// "asynq:*" when it ends, which must never remove someone else's data.
func (b *bench) requireEmpty(ctx context.Context) error {
	n, err := b.mon.DBSize(ctx).Result()
	if err != nil {
		return fmt.Errorf("dbsize on %s db %d: %w", b.opts.Addr, b.opts.DB, err)
	}
	if n != 0 {
		return fmt.Errorf("database %d on %s holds %d keys; asynqbench needs an empty database of its own", b.opts.DB, b.opts.Addr, n)
	}
	return nil
}

// cleanup deletes asynq's keys, and only those, in batches (never FLUSHDB).
func (b *bench) cleanup(ctx context.Context) error {
	var cursor uint64
	for {
		keys, next, err := b.mon.Scan(ctx, cursor, asynqPattern, 1000).Result()
		if err != nil {
			return fmt.Errorf("cleanup: scan: %w", err)
		}
		if len(keys) > 0 {
			if err := b.mon.Unlink(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("cleanup: unlink: %w", err)
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// parallel runs fn(0..n-1) concurrently and returns their errors joined.
func parallel(n int, fn func(i int) error) error {
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- fn(i) }()
	}
	var all []error
	for range n {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}
