package tasks_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/runq/runq/tasks"
)

// GreetIn is the payload of the greet task.
type GreetIn struct {
	Name string `json:"name"`
}

// GreetOut is its result.
type GreetOut struct {
	Text string `json:"text"`
}

// A worker and a producer in one program: register a typed handler, run a
// pool, submit a typed payload and read back the typed result.
func Example() {
	redis := startRedis() // an embedded Redis; yours is at redis://host:6379/0
	defer redis.Close()
	ctx := context.Background()

	reg := tasks.NewRegistry()
	tasks.Handle(reg, "greet", func(ctx context.Context, t *tasks.Task, in GreetIn) (GreetOut, error) {
		return GreetOut{Text: "hello, " + in.Name}, nil
	})
	client, err := tasks.Connect(ctx, redis.URL(), tasks.ClientConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	pool := tasks.NewPool(client.Redis(), reg, tasks.PoolConfig{})
	if err := pool.Register(ctx); err != nil { // so that the first Submit knows the name
		log.Fatal(err)
	}
	poolCtx, stopPool := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- pool.Run(poolCtx) }()
	defer func() { stopPool(); <-ran }() // the pool stops before the client closes its Redis

	rec, err := tasks.Submit(ctx, client, "greet", GreetIn{Name: "Ada"})
	if err != nil {
		log.Fatal(err)
	}
	out, err := tasks.Await[GreetOut](ctx, client, rec.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.Text)
	// Output: hello, Ada
}

// Handle registers a typed handler: runq decodes the payload into its
// input type and stores what it returns as the result. An error fails the
// attempt; one wrapping ErrSkipRetry fails the task at once.
func ExampleHandle() {
	reg := tasks.NewRegistry()
	tasks.Handle(reg, "image.resize", func(ctx context.Context, t *tasks.Task, in struct {
		URL   string `json:"url"`
		Width int    `json:"width"`
	}) (string, error) {
		if in.Width <= 0 {
			return "", fmt.Errorf("width %d: %w", in.Width, tasks.ErrSkipRetry)
		}
		return fmt.Sprintf("%s at %dpx", in.URL, in.Width), nil
	}, tasks.HandlerOptions{MaxRetries: 5, Timeout: time.Minute})
	sample, _ := reg.Sample("image.resize")
	fmt.Println(reg.Names(), string(sample))
	// Output: [image.resize] {"url":"","width":0}
}

// A producer submits and waits for the result; Wait blocks until the task
// finishes or ctx ends, and many waits share one subscription.
func ExampleClient_Wait() {
	redis := startRedis()
	defer redis.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
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
	poolCtx, stopPool := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- pool.Run(poolCtx) }()
	defer func() { stopPool(); <-ran }() // the pool stops before the client closes its Redis

	rec, err := client.Submit(ctx, tasks.Request{Name: "echo", Payload: []byte(`{"n":1}`),
		Options: tasks.Options{MaxRetries: tasks.NoRetries, ResultTTL: time.Hour}})
	if err != nil {
		log.Fatal(err)
	}
	rec, err = client.Wait(ctx, rec.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rec.Status, string(rec.Result), rec.Attempts)
	// Output: succeeded {"n":1} 1
}

// Limits declared with a handler hold across every worker of a queue:
// email.send starts at most 5 a second (one every 200 ms), and at most 2
// report.render run at once. A task over them waits in its queue without
// being an attempt; other names flow meanwhile.
func ExampleHandlerOptions_limits() {
	redis := startRedis()
	defer redis.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reg := tasks.NewRegistry()
	nothing := func(ctx context.Context, t *tasks.Task) (any, error) { return nil, nil }
	reg.HandleFunc("email.send", nothing, tasks.HandlerOptions{Rate: "5/s"})
	reg.HandleFunc("report.render", nothing, tasks.HandlerOptions{MaxRunning: 2})
	client, err := tasks.Connect(ctx, redis.URL(), tasks.ClientConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	pool := tasks.NewPool(client.Redis(), reg, tasks.PoolConfig{})
	if err := pool.Register(ctx); err != nil {
		log.Fatal(err)
	}
	poolCtx, stopPool := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- pool.Run(poolCtx) }()
	defer func() { stopPool(); <-ran }()

	send := tasks.Request{Name: "email.send"}
	recs, err := client.SubmitBatch(ctx, []tasks.Request{send, send, send})
	if err != nil {
		log.Fatal(err)
	}
	for i, rec := range recs {
		if recs[i], err = client.Wait(ctx, rec.ID); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("3 sends, all at their first attempt, started over at least 400ms:",
		recs[2].StartedAt.Sub(recs[0].StartedAt) >= 400*time.Millisecond, recs[2].Attempts == 1)
	handlers, err := client.Handlers(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range handlers {
		fmt.Printf("%s rate=%q max_running=%d\n", h.Name, h.Rate, h.MaxRunning)
	}
	// Output:
	// 3 sends, all at their first attempt, started over at least 400ms: true true
	// email.send rate="5/s" max_running=0
	// report.render rate="" max_running=2
}
