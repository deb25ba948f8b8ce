package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/api/client"
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
