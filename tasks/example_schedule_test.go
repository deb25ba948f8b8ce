package tasks_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/runq/runq/tasks"
)

// Schedules create tasks periodically. Every process that declares a
// schedule asks Redis for each of its ticks, and Redis creates one task
// per tick, so every replica of a worker can declare the same schedules.
// Schedules lists them, with their last and next runs.
func ExampleRegistry_Cron() {
	redis := startRedis() // an embedded Redis; yours is at redis://host:6379/0
	defer redis.Close()
	ctx := context.Background()

	reg := tasks.NewRegistry()
	reg.HandleFunc("report.send", func(ctx context.Context, t *tasks.Task) (any, error) { return nil, nil })
	reg.HandleFunc("email.digest", func(ctx context.Context, t *tasks.Task) (any, error) { return nil, nil })
	reg.Every(time.Hour, "report.send", map[string]string{"to": "ops"}) // on the hour, UTC
	reg.Cron("CRON_TZ=Europe/Paris 0 8 * * MON-FRI", "email.digest", nil,
		tasks.ScheduleOptions{Options: tasks.Options{Queue: "mail", MaxRetries: 5}, ID: "weekday-digest"})

	client, err := tasks.Connect(ctx, redis.URL(), tasks.ClientConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	pool := tasks.NewPool(client.Redis(), reg, tasks.PoolConfig{})
	poolCtx, stopPool := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- pool.Run(poolCtx) }() // runs the schedules too
	defer func() { stopPool(); <-ran }()

	var list []tasks.ScheduleInfo
	for deadline := time.Now().Add(5 * time.Second); len(list) < 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // the pool declares its schedules as it starts
		if list, err = client.Schedules(ctx); err != nil {
			log.Fatal(err)
		}
	}
	for _, s := range list {
		fmt.Printf("%s | %s | %s | %s | %s\n", s.ID, s.Name, s.Queue, s.Payload, s.NextRun.Sub(s.NextRun.Truncate(time.Hour)))
	}
	// Output:
	// @every 1h report.send | report.send | default | {"to":"ops"} | 0s
	// weekday-digest | email.digest | mail | null | 0s
}
