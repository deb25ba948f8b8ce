package tasks_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/runq/runq/tasks"
)

// A broadcast task runs once on every live worker that registered its
// name and serves its queue, and its record holds each one's answer by
// worker ID. Here two pools, as two worker processes would, both reload.
func ExampleRequest_broadcast() {
	reg := tasks.NewRegistry()
	reg.HandleFunc("config.reload", func(ctx context.Context, t *tasks.Task) (any, error) {
		return "reloaded", nil
	})
	client, stop := startWorker(reg) // one pool
	defer stop()
	ctx := context.Background()
	second := tasks.NewPool(client.Redis(), reg, tasks.PoolConfig{}) // and another
	secondCtx, stopSecond := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- second.Run(secondCtx) }()
	defer func() { stopSecond(); <-ran }()
	for ws, _ := client.Workers(ctx); len(ws) < 2; ws, _ = client.Workers(ctx) {
		time.Sleep(10 * time.Millisecond) // until both report themselves live
	}

	rec, err := client.Submit(ctx, tasks.Request{Name: "config.reload", Broadcast: true})
	if err != nil {
		log.Fatal(err) // tasks.ErrNoWorkers when no live worker handles it
	}
	rec, err = client.Wait(ctx, rec.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rec.Status, rec.Broadcast.Targets, "workers")
	fmt.Println(rec.Broadcast.Workers[second.ID()].Status, string(rec.Broadcast.Workers[second.ID()].Result))
	// Output:
	// succeeded 2 workers
	// succeeded "reloaded"
}
