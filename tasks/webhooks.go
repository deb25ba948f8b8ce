package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

// Webhook delivery: limits and backoff.
const (
	// WebhookTimeout bounds one POST, connection included.
	WebhookTimeout = 10 * time.Second
	// WebhookMaxAge is how long after a task ended its webhook is retried;
	// then it is given up (status failed). While a retry is pending the
	// task is kept until some minutes after it, even past its result TTL.
	WebhookMaxAge = 24 * time.Hour
	// webhookVisibility is how long a delivery taken by one process is
	// hidden from the others: longer than a POST may take.
	webhookVisibility = 6 * WebhookTimeout
	// webhookPoll is how often a pool looks for due deliveries when it
	// found none.
	webhookPoll = time.Second
	// webhookSkewMargin covers the error of the estimate of Redis's clock
	// (a round trip): a delivery due this soon is claimed now.
	webhookSkewMargin = 50 * time.Millisecond
)

// webhookBackoff returns the wait after failed attempt n (1 for the
// first): 1s, doubling, at most an hour.
var webhookBackoff = ExponentialBackoff(time.Second, time.Hour)

// webhooks delivers the webhooks of a pool's queues: it takes due
// deliveries (DueHooks) no faster than it has room to send them, and POSTs
// each in a goroutine of its own, never in a handler's slot.
type webhooks struct {
	p       *Pool
	client  *http.Client
	secret  []byte
	room    chan struct{} // one token per delivery in flight
	warned  sync.Once     // that deliveries go unsigned
	sending sync.WaitGroup
	// skew is Redis's clock less ours, as the last DueHooks showed it;
	// skewKnown is false until one did. Only run's goroutine uses them.
	skew      time.Duration
	skewKnown bool
}

func newWebhooks(p *Pool) *webhooks {
	dialer := &net.Dialer{Timeout: WebhookTimeout}
	if !p.cfg.WebhookAllowPrivate {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			return dialGuard(network, address)
		}
	}
	transport := &http.Transport{
		Proxy:               nil, // a proxy would dial for us, past the guard
		DialContext:         dialer.DialContext,
		TLSHandshakeTimeout: WebhookTimeout,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}
	return &webhooks{
		p:      p,
		secret: []byte(p.cfg.WebhookSecret),
		room:   make(chan struct{}, p.cfg.WebhookConcurrency),
		client: &http.Client{
			Transport: transport,
			Timeout:   WebhookTimeout,
			// A redirect is an answer, not a 2xx: it is not followed (a
			// POST would become a GET, or go where it was not meant to).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// run delivers until ctx ends, then waits for the POSTs in flight, which
// have their own timeout. It looks for due deliveries once a second, and
// at once when this pool ended a task with a callback URL; a task ended
// elsewhere (canceled through the API, say) waits for the next look.
func (w *webhooks) run(ctx context.Context) {
	defer w.sending.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-w.p.hookWake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
		wait := webhookPoll
		for _, q := range w.p.cfg.Queues {
			if w.round(ctx, q) {
				wait = 0 // a full batch: more may be due
			}
		}
		timer.Reset(wait)
	}
}

// round takes as many due deliveries of queue as there is room for and
// starts them; it reports whether it took a full batch.
func (w *webhooks) round(ctx context.Context, queue string) bool {
	free := cap(w.room) - len(w.room)
	if free == 0 {
		return false
	}
	if due, err := w.due(ctx, queue); err != nil || !due {
		w.failed(ctx, queue, err)
		return false
	}
	before := time.Now()
	hc, err := w.p.b.DueHooks(ctx, queue, free, webhookVisibility)
	if err != nil {
		w.failed(ctx, queue, err)
		return false
	}
	if !hc.At.IsZero() {
		w.skew, w.skewKnown = hc.At.Sub(before), true
	}
	send := context.WithoutCancel(ctx)
	for _, id := range hc.IDs {
		w.room <- struct{}{}
		w.sending.Add(1)
		go func() {
			defer func() { <-w.room; w.sending.Done() }()
			w.deliver(send, hc, id)
		}()
	}
	return len(hc.IDs) == free
}

// due reports whether queue may have a delivery due, with one plain read
// (FirstHook) rather than the claim script: an idle pool, or one whose
// deliveries wait for their next attempt, costs one read per look. The
// first delivery's time is on Redis's clock, compared with ours plus the
// skew the last claim showed; the claim script decides what is due.
func (w *webhooks) due(ctx context.Context, queue string) (bool, error) {
	at, ok, err := w.p.b.FirstHook(ctx, queue)
	if err != nil || !ok {
		return false, err
	}
	return !w.skewKnown || !at.After(time.Now().Add(w.skew+webhookSkewMargin)), nil
}

// failed logs a failure to take queue's deliveries (err nil: none).
func (w *webhooks) failed(ctx context.Context, queue string, err error) {
	if err != nil && ctx.Err() == nil && !w.p.health.failed("webhooks", err) {
		w.p.log.Warn("taking due webhooks failed", "queue", queue, "err", err)
	}
}

// deliver makes one attempt at task id's webhook and records it.
func (w *webhooks) deliver(ctx context.Context, hc broker.HookClaim, id uuid.UUID) {
	log := w.p.log.With("task_id", id, "queue", hc.Queue)
	rec, err := w.p.b.Get(ctx, id)
	if err != nil && !errors.Is(err, results.ErrNotFound) && !errors.Is(err, results.ErrCorrupt) {
		// Redis is unreachable, say: the delivery is taken again once its
		// visibility lapses.
		log.Warn("reading a task for its webhook failed", "err", err)
		return
	}
	if err != nil || !rec.Status.Terminal() || rec.CallbackURL == "" {
		// Gone (expired, purged), or queued again by a retry: this
		// delivery ends; the task's next end schedules another.
		if _, err := w.p.b.HookDone(ctx, hc, id, nil, -1); err != nil {
			log.Warn("dropping a webhook failed", "err", err)
		}
		return
	}
	state := results.WebhookDelivery{Status: results.WebhookPending}
	if rec.Webhook != nil {
		state = *rec.Webhook
	}
	state.Attempts++
	state.LastStatus, state.LastError = w.post(ctx, &rec)
	state.NextAttemptAt = time.Time{}
	retryIn := time.Duration(-1)
	switch now := time.Now(); {
	case state.LastError == "":
		state.Status, state.DeliveredAt = results.WebhookDelivered, now.UTC()
	case now.Add(webhookBackoff(state.Attempts)).After(rec.FinishedAt.Add(WebhookMaxAge)):
		state.Status = results.WebhookFailed
		log.Warn("webhook given up", "attempts", state.Attempts, "err", state.LastError)
	default:
		retryIn = webhookBackoff(state.Attempts)
		state.NextAttemptAt = now.Add(retryIn).UTC()
	}
	raw, _ := json.Marshal(state) // a struct of plain fields always encodes
	if _, err := w.p.b.HookDone(ctx, hc, id, raw, retryIn); err != nil {
		log.Warn("recording a webhook failed", "err", err)
	}
}

// post sends rec to its callback URL and returns the HTTP status (0 for
// none) and, unless it was a 2xx, why it failed.
func (w *webhooks) post(ctx context.Context, rec *results.Record) (status int, failure string) {
	final := *rec
	final.Webhook = nil // the delivery's own state is not part of what it delivers
	body, err := json.Marshal(final)
	if err != nil {
		return 0, "encode the record: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rec.CallbackURL, bytes.NewReader(body))
	if err != nil {
		return 0, truncate(err.Error(), 256)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "runq-webhook")
	req.Header.Set(WebhookTaskIDHeader, rec.ID.String())
	req.Header.Set(WebhookDeliveryIDHeader, deliveryID(rec))
	if len(w.secret) > 0 {
		req.Header.Set(WebhookSignatureHeader, signWebhook(w.secret, time.Now(), body))
	} else {
		w.warned.Do(func() {
			w.p.log.Warn("no webhook secret (--webhook-secret): webhooks are sent unsigned, without " + WebhookSignatureHeader)
		})
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, truncate(err.Error(), 256)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, ""
}

// deliveryID names the delivery of rec's final record: its task and when
// it ended (WebhookDeliveryIDHeader).
func deliveryID(rec *results.Record) string {
	return rec.ID.String() + ":" + strconv.FormatInt(rec.FinishedAt.UnixMilli(), 10)
}
