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

// Weighted queues: each claim tries the queues in an order drawn by
// weight, so among those with tasks, low is claimed from about one time in
// ten (one in seven while default is empty) and runs while critical still
// has a backlog. With Queues alone, in strict order, it would wait for
// critical and default to empty.
func ExamplePoolConfig_weights() {
	redis := startRedis()
	defer redis.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reg := tasks.NewRegistry()
	reg.HandleFunc("job", func(ctx context.Context, t *tasks.Task) (any, error) { return nil, nil })
	client, err := tasks.Connect(ctx, redis.URL(), tasks.ClientConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	pool := tasks.NewPool(client.Redis(), reg, tasks.PoolConfig{
		Weights:     map[string]int{"critical": 6, "default": 3, "low": 1},
		Concurrency: 1, // one task per claim
	})
	if err := pool.Register(ctx); err != nil {
		log.Fatal(err)
	}
	backlog := make([]tasks.Request, 1000)
	for i := range backlog {
		backlog[i] = tasks.Request{Name: "job", Options: tasks.Options{Queue: "critical"}}
	}
	if _, err := client.SubmitBatch(ctx, backlog); err != nil {
		log.Fatal(err)
	}
	low, err := client.Submit(ctx, tasks.Request{Name: "job", Options: tasks.Options{Queue: "low"}})
	if err != nil {
		log.Fatal(err)
	}
	poolCtx, stopPool := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- pool.Run(poolCtx) }()
	defer func() { stopPool(); <-ran }()

	rec, err := client.Wait(ctx, low.ID)
	if err != nil {
		log.Fatal(err)
	}
	critical, err := client.Queue(ctx, "critical")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("low:", rec.Status, "- critical tasks still queued:", critical.Queued > 0)
	// Output: low: succeeded - critical tasks still queued: true
}
