package main

import (
	"context"
	"net"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// clientName names every connection asynqbench opens (CLIENT SETNAME), so
// that any other active client of the server can be told apart.
const clientName = "asynqbench"

// span counts operations that asynqbench started and that completed.
// Read done before an INFO and started after it, the pair brackets how many
// of them Redis had seen at that INFO, whatever was in flight.
type span struct{ started, done atomic.Int64 }

// dials spans the connections asynqbench opened, to compare with the
// server's total_connections_received.
var dials span

// tripCounter is a go-redis hook that counts round trips (one per command
// sent alone, one per pipeline or MULTI/EXEC block), the script calls among
// them, and every dial. It sees what asynq sends through the client passed to
// asynq.NewClientFromRedisClient or asynq.NewServerFromRedisClient; asynq's
// pub/sub subscription for cancelations bypasses hooks.
type tripCounter struct {
	trips   atomic.Int64
	scripts span
}

func (c *tripCounter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.started.Add(1)
		defer dials.done.Add(1)
		return next(ctx, network, addr)
	}
}

func (c *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.trips.Add(1)
		n := scripts(cmd)
		c.scripts.started.Add(n)
		defer c.scripts.done.Add(n)
		return next(ctx, cmd)
	}
}

func (c *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.trips.Add(1)
		n := scripts(cmds...)
		c.scripts.started.Add(n)
		defer c.scripts.done.Add(n)
		return next(ctx, cmds)
	}
}

// scripts counts the script calls (EVALSHA or EVAL) among cmds.
func scripts(cmds ...redis.Cmder) int64 {
	var n int64
	for _, cmd := range cmds {
		if name := cmd.Name(); name == "evalsha" || name == "eval" {
			n++
		}
	}
	return n
}
