package tasks_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/runq/runq/tasks"
)

// A receiver of runq's webhooks checks each request's signature against
// the raw body before it trusts it. The request here is signed by hand,
// as the workers sign it: HMAC-SHA256 of "<unix seconds>.<body>", keyed
// with the secret given to the workers (--webhook-secret).
func ExampleVerifyWebhook() {
	secret := []byte("the --webhook-secret")
	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		if err := tasks.VerifyWebhook(secret, r.Header.Get(tasks.WebhookSignatureHeader), body, 5*time.Minute, time.Now()); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		// Delivery is at least once: act once per task ID.
		fmt.Println("task", r.Header.Get(tasks.WebhookTaskIDHeader), "ended:", string(body))
	})

	body := `{"id":"0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77","status":"succeeded"}`
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "." + body))
	for _, sig := range []string{"t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil)), "t=" + ts + ",v1=00"} {
		req := httptest.NewRequest(http.MethodPost, "/hooks/runq", strings.NewReader(body))
		req.Header.Set(tasks.WebhookSignatureHeader, sig)
		req.Header.Set(tasks.WebhookTaskIDHeader, "0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77")
		rec := httptest.NewRecorder()
		receiver.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// task 0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77 ended: {"id":"0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77","status":"succeeded"}
	// 200
	// 401
}
