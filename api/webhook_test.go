package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestSubmitCallbackURL submits tasks with a callback URL, alone and in a
// batch: the record shows it, and once the task ends (here canceled, in a
// queue no worker serves), its webhook as pending.
func TestSubmitCallbackURL(t *testing.T) {
	t.Parallel()
	const hook = "https://example.com/hooks/runq?x=1"
	eachBackend(t, func(t *testing.T, s *bundle) {
		for _, body := range []string{
			`{"name":"echo","queue":"parked","callback_url":"` + hook + `"}`,
			`{"tasks":[{"name":"echo","queue":"parked","callback_url":"` + hook + `"}]}`,
		} {
			target := "/v1/tasks"
			if body[2] == 't' {
				target = "/v1/tasks/batch"
			}
			rec := serve(s.app, newRequest(http.MethodPost, target, "application/json", body))
			if rec.Code != http.StatusAccepted {
				t.Fatalf("POST %s = %d %s, want 202", body, rec.Code, rec.Body)
			}
			var sub struct {
				ID          string          `json:"id"`
				CallbackURL string          `json:"callback_url"`
				Webhook     json.RawMessage `json:"webhook"`
				Tasks       []struct {
					ID          string `json:"id"`
					CallbackURL string `json:"callback_url"`
				} `json:"tasks"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &sub); err != nil {
				t.Fatal(err)
			}
			if len(sub.Tasks) == 1 {
				sub.ID, sub.CallbackURL = sub.Tasks[0].ID, sub.Tasks[0].CallbackURL
			}
			if sub.CallbackURL != hook || sub.Webhook != nil {
				t.Errorf("POST %s: callback_url %q, webhook %s; want %q and no webhook yet", target, sub.CallbackURL, sub.Webhook, hook)
			}
			if rec := serve(s.app, newRequest(http.MethodDelete, "/v1/tasks/"+sub.ID, "", "")); rec.Code != http.StatusOK {
				t.Fatalf("DELETE = %d %s", rec.Code, rec.Body)
			}
			var got struct {
				CallbackURL string `json:"callback_url"`
				Webhook     struct {
					Status   string `json:"status"`
					Attempts *int   `json:"attempts"`
				} `json:"webhook"`
			}
			rec = serve(s.app, newRequest(http.MethodGet, "/v1/tasks/"+sub.ID, "", ""))
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.CallbackURL != hook || got.Webhook.Status != "pending" || got.Webhook.Attempts == nil || *got.Webhook.Attempts != 0 {
				t.Errorf("GET after cancel = %s, want callback_url and webhook pending, 0 attempts", rec.Body)
			}
		}
	})
}
