package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// hookSink is a webhook receiver that records what it got and answers
// with the statuses of fail in turn, then 200.
type hookSink struct {
	mu   sync.Mutex
	got  []hookCall
	fail []int
	srv  *httptest.Server
}

type hookCall struct {
	header http.Header
	body   []byte
}

func newHookSink(t *testing.T, fail ...int) *hookSink {
	t.Helper()
	h := &hookSink{fail: fail}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, hookCall{r.Header.Clone(), body})
		status := http.StatusOK
		if len(h.fail) > 0 {
			status, h.fail = h.fail[0], h.fail[1:]
		}
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// calls returns the requests received for task id.
func (h *hookSink) calls(id uuid.UUID) []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hookCall
	for _, c := range h.got {
		if c.header.Get(tasks.WebhookTaskIDHeader) == id.String() {
			out = append(out, c)
		}
	}
	return out
}

const hookSecret = "s3cret"

// privateClient is a client of s's backend that accepts callback URLs on
// loopback, where the test's receivers listen.
func privateClient(t *testing.T, s bundle) *tasks.Client {
	t.Helper()
	c := tasks.NewClient(s.be.Client, tasks.ClientConfig{Prefix: s.be.Prefix, Logger: quiet(), WebhookAllowPrivate: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// untilWebhook waits until task id's webhook is no longer pending.
func untilWebhook(t *testing.T, c *tasks.Client, id uuid.UUID) results.Record {
	t.Helper()
	var rec results.Record
	until(t, "the webhook to end", func() bool {
		rec, _ = c.Get(context.Background(), id)
		return rec.Webhook != nil && rec.Webhook.Status != results.WebhookPending
	})
	return rec
}

// TestWebhookDelivered ends tasks every way (succeeded, failed, canceled)
// with a callback URL: each final record is POSTed once, signed, and the
// record says delivered.
func TestWebhookDelivered(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		sink := newHookSink(t)
		c := privateClient(t, s)
		s.startPool(t, tasks.PoolConfig{WebhookSecret: hookSecret, WebhookAllowPrivate: true})
		ctx := context.Background()
		tests := []struct {
			name, task string
			cancel     bool
			want       results.Status
		}{
			{"succeeded", "echo", false, results.StatusSucceeded},
			{"failed", "fail", false, results.StatusFailed},
			{"canceled", "echo", true, results.StatusCanceled},
		}
		for _, tc := range tests {
			r := tasks.Request{Name: tc.task, CallbackURL: sink.srv.URL + "/hook?k=" + tc.name}
			if tc.cancel {
				r.Delay = time.Hour
			}
			rec, err := c.Submit(ctx, r)
			if err != nil {
				t.Fatalf("%s: Submit = %v", tc.name, err)
			}
			if rec.CallbackURL != r.CallbackURL {
				t.Errorf("%s: Submit's record has callback_url %q, want %q", tc.name, rec.CallbackURL, r.CallbackURL)
			}
			if tc.cancel {
				if _, err := c.Cancel(ctx, rec.ID); err != nil {
					t.Fatal(err)
				}
			}
			got := untilWebhook(t, c, rec.ID)
			if wh := got.Webhook; wh.Status != results.WebhookDelivered || wh.Attempts != 1 || wh.LastStatus != 200 || wh.DeliveredAt.IsZero() {
				t.Errorf("%s: webhook = %+v, want delivered at the first attempt", tc.name, wh)
			}
			calls := sink.calls(rec.ID)
			if len(calls) != 1 {
				t.Fatalf("%s: the receiver got %d requests, want 1", tc.name, len(calls))
			}
			call := calls[0]
			err = tasks.VerifyWebhook([]byte(hookSecret), call.header.Get(tasks.WebhookSignatureHeader), call.body, time.Minute, time.Now())
			if err != nil {
				t.Errorf("%s: VerifyWebhook = %v, want nil", tc.name, err)
			}
			var body results.Record
			if err := json.Unmarshal(call.body, &body); err != nil || body.ID != rec.ID || body.Status != tc.want || body.Webhook != nil {
				t.Errorf("%s: body = %+v, %v; want the final record, %s, without its webhook state", tc.name, body, err, tc.want)
			}
			if ct := call.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s: Content-Type = %q, want application/json", tc.name, ct)
			}
			tampered := append([]byte(nil), call.body...)
			tampered[len(tampered)-2] ^= 1
			if err := tasks.VerifyWebhook([]byte(hookSecret), call.header.Get(tasks.WebhookSignatureHeader), tampered, time.Minute, time.Now()); !errors.Is(err, tasks.ErrBadSignature) {
				t.Errorf("%s: VerifyWebhook(changed body) = %v, want ErrBadSignature", tc.name, err)
			}
		}
	})
}

// TestWebhookRetried answers 503 twice, then 200: three attempts, with
// backoff, and the record ends delivered.
func TestWebhookRetried(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		sink := newHookSink(t, http.StatusServiceUnavailable, http.StatusServiceUnavailable)
		c := privateClient(t, s)
		s.startPool(t, tasks.PoolConfig{WebhookSecret: hookSecret, WebhookAllowPrivate: true})
		rec, err := c.Submit(context.Background(), tasks.Request{Name: "echo", CallbackURL: sink.srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		until(t, "a failed attempt", func() bool {
			r, _ := c.Get(context.Background(), rec.ID)
			return r.Webhook != nil && r.Webhook.Attempts >= 1
		})
		if r := s.get(t, rec.ID); r.Webhook.Status != results.WebhookPending || r.Webhook.LastStatus != 503 || r.Webhook.LastError == "" {
			t.Errorf("webhook after a 503 = %+v, want pending, last_status 503, with an error", r.Webhook)
		}
		got := untilWebhook(t, c, rec.ID)
		if wh := got.Webhook; wh.Status != results.WebhookDelivered || wh.Attempts != 3 || wh.LastStatus != 200 || wh.LastError != "" {
			t.Errorf("webhook = %+v, want delivered at the third attempt", wh)
		}
		if n := len(sink.calls(rec.ID)); n != 3 {
			t.Errorf("the receiver got %d requests, want 3", n)
		}
	})
}

// TestWebhookRefusesPrivateAddresses refuses a loopback callback URL at
// submit, and at delivery when only the submitter allowed it: by IP, and
// by a name (localhost) that resolves to loopback.
func TestWebhookRefusesPrivateAddresses(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ctx := context.Background()
		for _, u := range []string{"http://127.0.0.1/x", "http://[::1]:80/", "http://10.1.2.3/", "http://169.254.169.254/latest/meta-data",
			"http://localhost:8080/", "http://0.0.0.0/", "http://[::ffff:192.168.0.1]/"} {
			if _, err := s.client.Submit(ctx, tasks.Request{Name: "echo", CallbackURL: u}); !errors.Is(err, tasks.ErrInvalid) {
				t.Errorf("Submit(callback_url %q) = %v, want ErrInvalid", u, err)
			}
		}
		sink := newHookSink(t)
		c := privateClient(t, s)
		s.startPool(t, tasks.PoolConfig{WebhookSecret: hookSecret}) // private addresses refused
		port := sink.srv.URL[strings.LastIndex(sink.srv.URL, ":"):]
		for _, u := range []string{sink.srv.URL, "http://localhost" + port} {
			rec, err := c.Submit(ctx, tasks.Request{Name: "echo", CallbackURL: u})
			if err != nil {
				t.Fatal(err)
			}
			until(t, "a refused attempt", func() bool {
				r, _ := c.Get(ctx, rec.ID)
				return r.Webhook != nil && r.Webhook.Attempts >= 1
			})
			wh := s.get(t, rec.ID).Webhook
			if wh.Status != results.WebhookPending || wh.LastStatus != 0 || !strings.Contains(wh.LastError, "internal address") {
				t.Errorf("webhook to %s = %+v, want pending with the refusal as its error", u, wh)
			}
			if n := len(sink.calls(rec.ID)); n != 0 {
				t.Errorf("the receiver got %d requests, want none", n)
			}
		}
	})
}

// TestWebhookOncePerAttempt runs two pools, as two worker processes, over
// one queue of tasks with callback URLs: each task's webhook is sent once.
func TestWebhookOncePerAttempt(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		sink := newHookSink(t)
		c := privateClient(t, s)
		for range 2 {
			s.startPool(t, tasks.PoolConfig{WebhookSecret: hookSecret, WebhookAllowPrivate: true, WebhookConcurrency: 4})
		}
		rs := make([]tasks.Request, 40)
		for i := range rs {
			rs[i] = tasks.Request{Name: "echo", CallbackURL: sink.srv.URL}
		}
		recs, err := c.SubmitBatch(context.Background(), rs)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			untilWebhook(t, c, rec.ID)
		}
		for _, rec := range recs {
			if n := len(sink.calls(rec.ID)); n != 1 {
				t.Errorf("task %s: the receiver got %d requests, want 1", rec.ID, n)
			}
		}
	})
}
