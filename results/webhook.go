package results

import "time"

// WebhookDelivery is the state of the webhook of a task submitted with a
// callback URL: runq POSTs the task's final record there once it ends,
// retrying with backoff (see tasks.PoolConfig). It shows in the record as
// "webhook" once the task has ended.
type WebhookDelivery struct {
	// Status is pending (not yet delivered: tried or due), delivered (an
	// attempt got a 2xx) or failed (given up: every attempt for a day
	// failed, or the URL was refused).
	Status        WebhookStatus `json:"status"`
	Attempts      int           `json:"attempts"`              // POSTs made
	LastStatus    int           `json:"last_status,omitempty"` // HTTP status of the last attempt; 0 when it got none
	LastError     string        `json:"last_error,omitempty"`  // why the last attempt failed
	NextAttemptAt time.Time     `json:"next_attempt_at,omitzero"`
	DeliveredAt   time.Time     `json:"delivered_at,omitzero"`
}

// WebhookStatus is where a webhook's delivery stands.
type WebhookStatus string

// The statuses of a webhook's delivery.
const (
	WebhookPending   WebhookStatus = "pending"
	WebhookDelivered WebhookStatus = "delivered"
	WebhookFailed    WebhookStatus = "failed"
)
