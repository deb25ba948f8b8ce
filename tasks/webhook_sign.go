package tasks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers of a webhook: runq POSTs a task's final record (JSON, as GET
// /v1/tasks/{id} shows it) to the task's callback URL with these.
const (
	// WebhookSignatureHeader carries "t=<unix seconds>,v1=<hex>": the
	// time the request was signed and the HMAC-SHA256, keyed with the
	// webhook secret, of "<t>.<body>". Absent when the workers have no
	// secret. Check it with VerifyWebhook.
	WebhookSignatureHeader = "Runq-Signature"
	// WebhookTaskIDHeader carries the task's ID.
	WebhookTaskIDHeader = "Runq-Task-Id"
	// WebhookDeliveryIDHeader carries "<task ID>:<finished_at, unix ms>":
	// the same on every attempt to deliver one final record, and new when
	// the task runs again (a retry through the API) and ends anew. A
	// receiver that must act once per end dedupes on it.
	WebhookDeliveryIDHeader = "Runq-Delivery-Id"
)

// ErrBadSignature reports a webhook whose signature does not verify:
// missing, malformed, made with another secret or over another body, or
// too old.
var ErrBadSignature = errors.New("tasks: webhook signature does not verify")

// signWebhook returns the Runq-Signature of body, signed at t with secret.
func signWebhook(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(webhookMAC(secret, ts, body))
}

func webhookMAC(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhook checks a webhook's Runq-Signature header against its raw
// body (read it whole, before decoding) and the secret the workers were
// given (--webhook-secret), and that it was signed within maxAge of now
// (either way: clocks differ), which stops a captured request from being
// replayed later; maxAge 0 means 5 minutes. An empty secret verifies
// nothing (anyone can sign with it): it is ErrBadSignature. Delivery is
// at least once: a receiver that must act once per end of a task dedupes
// on the Runq-Delivery-Id header (on Runq-Task-Id, once per task, re-runs
// included). Any failure is ErrBadSignature.
func VerifyWebhook(secret []byte, header string, body []byte, maxAge time.Duration, now time.Time) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: no secret to verify with", ErrBadSignature)
	}
	if maxAge <= 0 {
		maxAge = 5 * time.Minute
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: want t=<unix seconds>,v1=<hex>", ErrBadSignature)
	}
	if age := now.Sub(time.Unix(sec, 0)); age > maxAge || age < -maxAge {
		return fmt.Errorf("%w: signed %s from now, more than %s", ErrBadSignature, age.Round(time.Second), maxAge)
	}
	want := webhookMAC(secret, ts, body)
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: wrong secret, or the body was changed", ErrBadSignature)
}
