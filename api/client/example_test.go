package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/api/client"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// Greeting is a payload of the built-in echo task, which returns it as
// its result.
type Greeting struct {
	Text string `json:"text"`
}

// Submitting over HTTP and reading the typed result back, as a service
// that reaches runq through its API does.
func Example() {
	url, stop := startRunq() // `go run ./cmd/runq` serves http://127.0.0.1:8080
	defer stop()
	ctx := context.Background()

	c, err := client.New(url, client.Config{})
	if err != nil {
		log.Fatal(err)
	}
	rec, err := tasks.Submit(ctx, c, "echo", Greeting{Text: "hello"}, tasks.Options{ResultTTL: time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	out, err := tasks.Await[Greeting](ctx, c, rec.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.Text)
	// Output: hello
}

// Errors of the API match the sentinels of package tasks, and carry the
// status and the server's words.
func ExampleError() {
	url, stop := startRunq()
	defer stop()
	c, err := client.New(url, client.Config{})
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Get(context.Background(), uuid.MustParse("0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77"))
	var apiErr *client.Error
	if errors.Is(err, tasks.ErrNotFound) && errors.As(err, &apiErr) {
		fmt.Println(apiErr.Status, apiErr.Code, apiErr.Message)
	}
	// Output: 404 not_found task not found
}

// Finding the failed tasks, page by page, newest first, and queuing each
// of them again: what `runq tasks --status failed` and `runq retry` do.
func ExampleClient_List() {
	url, stop := startRunq()
	defer stop()
	ctx := context.Background()
	c, err := client.New(url, client.Config{})
	if err != nil {
		log.Fatal(err)
	}
	rec, err := tasks.Submit(ctx, c, "fail", map[string]string{"message": "boom"}, tasks.Options{MaxRetries: tasks.NoRetries})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Wait(ctx, rec.ID); err != nil {
		log.Fatal(err)
	}
	opts := tasks.ListOptions{Status: results.StatusFailed, Limit: 100}
	for {
		page, err := c.List(ctx, opts)
		if err != nil {
			log.Fatal(err)
		}
		for _, failed := range page.Tasks {
			// The record Retry returns may already be running: a
			// worker can take the task before the answer is read.
			if _, err := c.Retry(ctx, failed.ID); err != nil {
				log.Fatal(err)
			}
			fmt.Println(failed.Name, failed.Error, "-> retried")
		}
		if page.NextCursor == "" {
			break
		}
		opts.Cursor = page.NextCursor
	}
	// Output: fail attempt 1: boom -> retried
}

// The queues and what they hold, as `runq queues` shows them.
func ExampleClient_Queues() {
	url, stop := startRunq()
	defer stop()
	ctx := context.Background()
	c, err := client.New(url, client.Config{})
	if err != nil {
		log.Fatal(err)
	}
	rec, err := tasks.Submit(ctx, c, "echo", Greeting{Text: "hi"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Wait(ctx, rec.ID); err != nil {
		log.Fatal(err)
	}
	// Workers report what succeeded with their heartbeat, within a second.
	var qs []tasks.QueueInfo
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if qs, err = c.Queues(ctx); err != nil {
			log.Fatal(err)
		}
		if len(qs) == 1 && qs[0].Succeeded == 1 || time.Now().After(deadline) {
			break
		}
	}
	for _, q := range qs {
		fmt.Printf("%s: %d queued, %d running, %d succeeded\n", q.Name, q.Queued, q.Running, q.Succeeded)
	}
	// Output: default: 0 queued, 0 running, 1 succeeded
}
