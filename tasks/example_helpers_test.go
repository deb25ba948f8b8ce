package tasks_test

import (
	"context"
	"log"

	"github.com/runq/runq/broker/embedded"
	"github.com/runq/runq/tasks"
)

// startRedis starts an embedded Redis for the examples to run on; a
// program of yours connects to a real one, redis://host:6379/0.
func startRedis() *embedded.Server {
	srv, err := embedded.Start("127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	return srv
}

// startWorker starts an embedded Redis, a Client on it and a Pool of reg's
// handlers, as Example does step by step; stop stops them in order.
func startWorker(reg *tasks.Registry) (client *tasks.Client, stop func()) {
	redis := startRedis()
	ctx := context.Background()
	client, err := tasks.Connect(ctx, redis.URL(), tasks.ClientConfig{})
	if err != nil {
		log.Fatal(err)
	}
	pool := tasks.NewPool(client.Redis(), reg, tasks.PoolConfig{})
	if err := pool.Register(ctx); err != nil {
		log.Fatal(err)
	}
	poolCtx, stopPool := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- pool.Run(poolCtx) }()
	return client, func() {
		stopPool()
		<-ran // the pool stops before the client closes its Redis
		client.Close()
		redis.Close()
	}
}
