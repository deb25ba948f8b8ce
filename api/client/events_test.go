package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/runq/runq/api"
	"github.com/runq/runq/api/client"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
	"github.com/runq/runq/tasks/builtin"
)

// TestClientEvents follows a task over the event stream until it ends,
// then resumes after its first event and gets the rest again.
func TestClientEvents(t *testing.T) {
	t.Parallel()
	for _, be := range redistest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			c, err := client.New(serve(t, be, api.Config{}, true), client.Config{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			rec, err := tasks.Submit(ctx, c, "sleep", builtin.SleepIn{MS: 300})
			if err != nil {
				t.Fatal(err)
			}
			var evs []tasks.TaskEvent
			if err := c.Events(ctx, rec.ID, "", func(ev tasks.TaskEvent) error {
				evs = append(evs, ev)
				return nil
			}); err != nil {
				t.Fatalf("Events(%s) = %v, want nil", rec.ID, err)
			}
			if len(evs) < 2 || evs[0].Kind != tasks.EventStatus || evs[len(evs)-1].Kind != tasks.EventEnd {
				t.Fatalf("Events(%s) = %+v, want a status event first and the end last", rec.ID, evs)
			}
			end := evs[len(evs)-1].Record
			if end.Status != results.StatusSucceeded || end.ID != rec.ID || len(end.Result) == 0 {
				t.Errorf("end event record = %+v, want the succeeded record", end)
			}
			var again []tasks.TaskEvent
			if err := c.Events(ctx, rec.ID, evs[0].ID, func(ev tasks.TaskEvent) error {
				again = append(again, ev)
				return nil
			}); err != nil || len(again) != len(evs)-1 || again[len(again)-1].Kind != tasks.EventEnd {
				t.Errorf("Events(%s, after %s) = %d events, %v; want the %d after the first", rec.ID, evs[0].ID, len(again), err, len(evs)-1)
			}
		})
	}
}
