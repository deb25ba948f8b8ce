package client_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/runq/runq/api"
	"github.com/runq/runq/api/client"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/tasks"
)

// TestClientWaitsForRoom: a full queue's refusal is ErrQueueFull with
// Retry-After; under tasks.WaitForRoom the client waits for room on the
// server, in as many requests as its MaxWait takes, until ctx ends.
func TestClientWaitsForRoom(t *testing.T) {
	t.Parallel()
	for _, be := range redistest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			c, err := client.New(serve(t, be, api.Config{}, false), client.Config{MaxWait: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			one := 1
			if _, err := c.UpdateQueue(ctx, "default", tasks.QueueUpdate{MaxLength: &one}); err != nil {
				t.Fatal(err)
			}
			echo := tasks.Request{Name: "echo"}
			if _, err := c.Submit(ctx, echo); err != nil {
				t.Fatal(err)
			}
			_, err = c.Submit(ctx, echo)
			var ae *client.Error
			if !errors.Is(err, tasks.ErrQueueFull) || !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests || ae.RetryAfter != time.Second {
				t.Fatalf("Submit into a full queue = %#v, want ErrQueueFull, 429, Retry-After 1s", err)
			}
			if _, err := c.SubmitBatch(ctx, []tasks.Request{echo, echo}); !errors.Is(err, tasks.ErrQueueFull) {
				t.Errorf("SubmitBatch into a full queue = %v, want ErrQueueFull", err)
			}

			short, cancelShort := context.WithTimeout(tasks.WaitForRoom(ctx), 350*time.Millisecond)
			defer cancelShort()
			start := time.Now()
			_, err = c.Submit(short, echo)
			if !errors.Is(err, tasks.ErrQueueFull) || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 250*time.Millisecond {
				t.Errorf("Submit waiting 350ms = %v after %s, want ErrQueueFull and DeadlineExceeded after about 350ms", err, time.Since(start))
			}

			got := make(chan error, 1)
			go func() { _, err := c.Submit(tasks.WaitForRoom(ctx), echo); got <- err }()
			select {
			case err := <-got:
				t.Fatalf("Submit under WaitForRoom returned at once: %v", err)
			case <-time.After(400 * time.Millisecond): // several of the server's 100ms waits
			}
			two := 2
			if _, err := c.UpdateQueue(ctx, "default", tasks.QueueUpdate{MaxLength: &two}); err != nil {
				t.Fatal(err)
			}
			if err := <-got; err != nil {
				t.Errorf("Submit under WaitForRoom once max_length rose = %v, want the task queued", err)
			}
		})
	}
}
