package api_test

import (
	"testing"

	"github.com/runq/runq/tasks"
)

func TestQueueSettingsOverHTTP(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		read := func() tasks.QueueInfo {
			var q tasks.QueueInfo
			decodeJSON(t, serve(s.app, newRequest("GET", "/v1/queues/mail", "", "")), 200, &q)
			return q
		}
		if q := read(); q.QueueSettings != (tasks.QueueSettings{}) {
			t.Fatalf("a new queue's settings = %+v, want none", q.QueueSettings)
		}
		var got struct {
			Queue string `json:"queue"`
			tasks.QueueSettings
		}
		decodeJSON(t, serve(s.app, newRequest("PUT", "/v1/queues/mail", "application/json", `{"max_length": 10, "max_running": 3}`)), 200, &got)
		want := tasks.QueueSettings{MaxLength: 10, MaxRunning: 3}
		if got.Queue != "mail" || got.QueueSettings != want {
			t.Fatalf("PUT = %+v, want mail %+v", got, want)
		}
		decodeJSON(t, serve(s.app, newRequest("POST", "/v1/queues/mail/pause", "", "")), 200, &got)
		want.Paused = true
		if got.QueueSettings != want {
			t.Fatalf("pause = %+v, want %+v (the other settings kept)", got.QueueSettings, want)
		}
		if q := read(); q.QueueSettings != want {
			t.Fatalf("GET after pause = %+v, want %+v", q.QueueSettings, want)
		}

		// Bad input is refused and changes nothing.
		for _, body := range []string{`{"max_length": -1}`, `{"max_length": 1000000001}`, `{"max_running": 2.5}`,
			`{"paused": "yes"}`, `{"max_length": 5, "colour": 1}`, `[1]`, `{}`} {
			rec := serve(s.app, newRequest("PUT", "/v1/queues/mail", "application/json", body))
			if msg := errorOf(t, rec, 400); rec.Code != 400 {
				t.Errorf("PUT %s = %q, want a 400", body, msg)
			}
		}
		if q := read(); q.QueueSettings != want {
			t.Fatalf("settings after bad input = %+v, want %+v unchanged", q.QueueSettings, want)
		}

		got.QueueSettings = tasks.QueueSettings{} // an unset field is left out of the answer
		decodeJSON(t, serve(s.app, newRequest("PUT", "/v1/queues/mail", "application/json", `{"max_length": null, "paused": false}`)), 200, &got)
		want = tasks.QueueSettings{MaxRunning: 3}
		if got.QueueSettings != want {
			t.Fatalf("unset = %+v, want %+v", got.QueueSettings, want)
		}
		var qs struct{ Queues []tasks.QueueInfo }
		decodeJSON(t, serve(s.app, newRequest("GET", "/v1/queues", "", "")), 200, &qs)
		found := false
		for _, q := range qs.Queues {
			found = found || (q.Name == "mail" && q.QueueSettings == want)
		}
		if !found {
			t.Errorf("GET /v1/queues = %+v, want mail listed with %+v", qs.Queues, want)
		}
	})
}
