package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/runq/runq/tasks"
)

// A bounded queue refuses a submission while it holds its max_length of
// queued tasks; under WaitForRoom the submission waits for a worker to
// make room instead, up to the context's deadline.
func ExampleWaitForRoom() {
	redis := startRedis()
	defer redis.Close()
	ctx := context.Background()
	reg := tasks.NewRegistry()
	reg.HandleFunc("echo", func(ctx context.Context, t *tasks.Task) (any, error) { return t.Payload, nil })
	client, err := tasks.Connect(ctx, redis.URL(), tasks.ClientConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	pool := tasks.NewPool(client.Redis(), reg, tasks.PoolConfig{})
	if err := pool.Register(ctx); err != nil {
		log.Fatal(err)
	}
	two := 2
	if _, err := client.UpdateQueue(ctx, "default", tasks.QueueUpdate{MaxLength: &two}); err != nil {
		log.Fatal(err)
	}
	echo := tasks.Request{Name: "echo", Payload: []byte(`{}`)}
	for range 2 {
		if _, err := client.Submit(ctx, echo); err != nil {
			log.Fatal(err)
		}
	}
	_, err = client.Submit(ctx, echo) // no worker has taken any yet
	fmt.Println("refused:", errors.Is(err, tasks.ErrQueueFull))

	poolCtx, stopPool := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- pool.Run(poolCtx) }()
	defer func() { stopPool(); <-ran }()
	wait, cancel := context.WithTimeout(tasks.WaitForRoom(ctx), 10*time.Second)
	defer cancel()
	rec, err := client.Submit(wait, echo) // queued once the worker takes one
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("then:", rec.Status)
	// Output:
	// refused: true
	// then: queued
}
