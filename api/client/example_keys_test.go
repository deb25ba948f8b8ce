package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/runq/runq/api/client"
	"github.com/runq/runq/tasks"
)

// A submission sent again with the same idempotency key, after a timeout
// say, returns the task the first one made, marked Replayed; a unique key
// keeps a second task out while the first holds it.
func ExampleClient_Submit_idempotent() {
	url, stop := startRunq()
	defer stop()
	ctx := context.Background()
	c, err := client.New(url, client.Config{})
	if err != nil {
		log.Fatal(err)
	}
	req := tasks.Request{Name: "echo", Payload: []byte(`{"order":7}`), IdempotencyKey: "order-7"}
	first, err := c.Submit(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	again, err := c.Submit(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(again.ID == first.ID, first.Replayed, again.Replayed)

	nightly := tasks.Request{Name: "echo", Unique: &tasks.Unique{Key: "nightly-report", For: time.Hour},
		OnConflict: tasks.OnConflictReject}
	holder, err := c.Submit(ctx, nightly)
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Submit(ctx, nightly)
	var dup *tasks.DuplicateError
	if errors.Is(err, tasks.ErrDuplicate) && errors.As(err, &dup) {
		fmt.Println("held by the first:", dup.Holder == holder.ID)
	}
	// Output:
	// true false true
	// held by the first: true
}
