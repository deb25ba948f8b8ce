package tasks_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// TestWebhookDeliveryID: every attempt at one final record carries the
// same Runq-Delivery-Id, the task ID and its finished_at in ms; the task
// run again (Retry) and ended anew carries another.
func TestWebhookDeliveryID(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ctx := context.Background()
		sink := newHookSink(t, http.StatusServiceUnavailable)
		c := privateClient(t, s)
		s.startPool(t, tasks.PoolConfig{WebhookSecret: hookSecret, WebhookAllowPrivate: true})
		rec, err := c.Submit(ctx, tasks.Request{Name: "fail", Payload: json.RawMessage(`{}`), CallbackURL: sink.srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		first := untilWebhook(t, c, rec.ID)
		if _, err := c.Retry(ctx, rec.ID); err != nil {
			t.Fatalf("Retry(%s) = %v", rec.ID, err)
		}
		var second results.Record
		until(t, "the second end's webhook", func() bool {
			second, _ = c.Get(ctx, rec.ID)
			return second.Status.Terminal() && second.Webhook != nil && second.Webhook.Status == results.WebhookDelivered &&
				!second.FinishedAt.Equal(first.FinishedAt)
		})
		calls := sink.calls(rec.ID)
		if len(calls) != 3 {
			t.Fatalf("the receiver got %d requests, want 3 (a 503 and its resend, then the re-run's)", len(calls))
		}
		want := []string{
			rec.ID.String() + ":" + strconv.FormatInt(first.FinishedAt.UnixMilli(), 10),
			rec.ID.String() + ":" + strconv.FormatInt(first.FinishedAt.UnixMilli(), 10),
			rec.ID.String() + ":" + strconv.FormatInt(second.FinishedAt.UnixMilli(), 10),
		}
		for i, call := range calls {
			if got := call.header.Get(tasks.WebhookDeliveryIDHeader); got != want[i] {
				t.Errorf("request %d: %s = %q, want %q", i, tasks.WebhookDeliveryIDHeader, got, want[i])
			}
		}
		if want[1] == want[2] {
			t.Errorf("the resend and the re-run share %s %q, want them told apart", tasks.WebhookDeliveryIDHeader, want[1])
		}
	})
}
