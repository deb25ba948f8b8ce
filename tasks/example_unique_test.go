package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/runq/runq/tasks"
)

// A unique task held until it finishes: while the first report is queued
// or running, a second submission gets the first back (Replayed), or, with
// OnConflictReject, a *DuplicateError naming it.
func ExampleUnique() {
	reg := tasks.NewRegistry()
	reg.HandleFunc("report", func(ctx context.Context, t *tasks.Task) (any, error) { return "done", nil })
	client, stop := startWorker(reg)
	defer stop()
	ctx := context.Background()

	// No worker serves the queue "later", so the first report stays queued.
	req := tasks.Request{Name: "report", Options: tasks.Options{Queue: "later"},
		Unique: &tasks.Unique{Key: "report:2030-01-02", Until: tasks.UntilFinished}}
	first, err := client.Submit(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	second, err := client.Submit(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(second.ID == first.ID, second.Replayed)

	req.OnConflict = tasks.OnConflictReject
	_, err = client.Submit(ctx, req)
	var dup *tasks.DuplicateError
	fmt.Println(errors.As(err, &dup) && dup.Holder == first.ID)

	// Canceled, the first frees the key.
	if _, err := client.Cancel(ctx, first.ID); err != nil {
		log.Fatal(err)
	}
	third, err := client.Submit(ctx, req)
	fmt.Println(third.ID != first.ID, err)
	// Output:
	// true true
	// true
	// true <nil>
}
