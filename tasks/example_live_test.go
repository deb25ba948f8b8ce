package tasks_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/runq/runq/tasks"
)

// A handler reports progress as it goes; a client follows the task's
// events, and cancels it halfway: the handler's context ends with cause
// ErrCanceled, and the task ends canceled, not retried.
func ExampleTask_Progress() {
	reg := tasks.NewRegistry()
	reg.HandleFunc("import", func(ctx context.Context, t *tasks.Task) (any, error) {
		for i := 1; i <= 4; i++ {
			if err := t.Progress(ctx, float64(i)/4, map[string]int{"rows": i * 100}); err != nil {
				return nil, err
			}
			select {
			case <-time.After(2 * tasks.ProgressInterval): // work
			case <-ctx.Done(): // context.Cause(ctx) is tasks.ErrCanceled after a cancel
				return nil, ctx.Err()
			}
		}
		return "imported", nil
	})
	client, stop := startWorker(reg)
	defer stop()
	ctx := context.Background()
	rec, err := client.Submit(ctx, tasks.Request{Name: "import"})
	if err != nil {
		log.Fatal(err)
	}
	err = client.Events(ctx, rec.ID, "", func(ev tasks.TaskEvent) error {
		switch {
		case ev.Kind == tasks.EventProgress && ev.Record.Progress.Value == 0.5:
			fmt.Println("half way:", string(ev.Record.Progress.Message))
			if _, err := client.Cancel(ctx, rec.ID); err != nil {
				return err
			}
		case ev.Kind == tasks.EventEnd:
			fmt.Println("end:", ev.Record.Status, "after", ev.Record.Attempts, "attempt")
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// half way: {"rows":200}
	// end: canceled after 1 attempt
}
