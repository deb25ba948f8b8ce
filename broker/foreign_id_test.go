package broker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
)

// TestForeignUUIDsNameNoTask asks for a queued task by a UUID that differs
// from its ID only in its version bits, which Redis does not hold: every
// call that takes a caller's task ID answers results.ErrNotFound, and the
// task is untouched.
func TestForeignUUIDsNameNoTask(t *testing.T) {
	t.Parallel()
	for _, be := range redistest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			b := broker.New(be.Client, be.Prefix)
			ts := []broker.NewTask{{Name: "echo", Queue: "q", Payload: []byte(`1`), ResultTTL: time.Hour}}
			if _, err := b.Enqueue(ctx, ts); err != nil {
				t.Fatal(err)
			}
			id := ts[0].ID
			twin := id
			twin[6] = 0x40 | twin[6]&0x0f // version 4
			calls := map[string]func() error{
				"Get":    func() error { _, err := b.Get(ctx, twin); return err },
				"Cancel": func() error { _, err := b.Cancel(ctx, twin); return err },
				"Retry":  func() error { _, err := b.Retry(ctx, twin); return err },
				"Watch":  func() error { _, _, err := b.Watch(ctx, twin); return err },
				"TaskEvents": func() error {
					_, _, _, err := b.TaskEvents(ctx, twin, "")
					return err
				},
				"GetMany": func() error {
					recs, errs := b.GetMany(ctx, []uuid.UUID{id, twin})
					if errs[0] != nil || recs[0].Status != results.StatusQueued {
						t.Errorf("GetMany: the task itself = %v, %v; want it queued", recs[0].Status, errs[0])
					}
					return errs[1]
				},
			}
			for name, call := range calls {
				if err := call(); !errors.Is(err, results.ErrNotFound) {
					t.Errorf("%s of %s, a version 4 twin of task %s = %v, want ErrNotFound", name, twin, id, err)
				}
			}
			rec, err := b.Get(ctx, id)
			if err != nil || rec.Status != results.StatusQueued {
				t.Errorf("Get(%s) after its twin's calls = %v, %v; want it queued", id, rec.Status, err)
			}
		})
	}
}
