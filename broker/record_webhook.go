package broker

import (
	"encoding/json"
	"fmt"

	"github.com/runq/runq/broker/internal/layout"
	"github.com/runq/runq/results"
)

// decodeWebhook sets r's callback URL and webhook state from the task's
// hash h: the state as last written, or pending for an ended task whose
// webhook has not been tried yet (finish.lua writes no state, so that an
// end costs nothing more).
func decodeWebhook(r *results.Record, h map[string]string) error {
	r.CallbackURL = layout.JoinParts(h, layout.FieldCallback, h[layout.FieldCallback])
	if raw, ok := h[layout.FieldWebhook]; ok {
		var wh results.WebhookDelivery
		if err := json.Unmarshal([]byte(layout.JoinParts(h, layout.FieldWebhook, raw)), &wh); err != nil {
			return fmt.Errorf("webhook state: %w", err)
		}
		r.Webhook = &wh
		return nil
	}
	if r.CallbackURL != "" && r.Status.Terminal() {
		r.Webhook = &results.WebhookDelivery{Status: results.WebhookPending}
	}
	return nil
}
