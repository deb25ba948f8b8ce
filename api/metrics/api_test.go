package metrics_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/runq/runq/api/metrics"
	"github.com/runq/runq/tasks"
)

// TestAPIScrape submits, batches and cancels through the API (no worker
// runs, so the tasks stay queued), then scrapes /metrics: the task
// counters carry each task's queue and name, the HTTP counters the route
// template, never the raw URL, and the queue gauges what Redis holds.
func TestAPIScrape(t *testing.T) {
	each(t, func(t *testing.T, s *bundle) {
		const token = "s3cret"
		srv := s.apiServer(t, metrics.NewAPI(s.metrics, s.client), token)
		for _, body := range []string{`{"name":"echo"}`, `{"name":"echo"}`, `{"name":"sleep","queue":"q2"}`} {
			if status, out := do(t, http.MethodPost, srv.URL+"/v1/tasks", token, body); status != http.StatusAccepted {
				t.Fatalf("POST /v1/tasks %s = %d %s, want 202", body, status, out)
			}
		}
		batch := `{"tasks":[{"name":"echo","queue":"q2"},{"name":"fail"}]}`
		status, out := do(t, http.MethodPost, srv.URL+"/v1/tasks/batch", token, batch)
		if status != http.StatusAccepted {
			t.Fatalf("POST /v1/tasks/batch = %d %s, want 202", status, out)
		}
		var recs struct {
			Tasks []struct{ ID string } `json:"tasks"`
		}
		if err := json.Unmarshal([]byte(out), &recs); err != nil || len(recs.Tasks) != 2 {
			t.Fatalf("batch answer %s: %v", out, err)
		}
		// Before the cancel: a canceled task stays in its list until a
		// worker meets it (a tombstone), and counts as queued till then.
		queued := scrape(t, srv.URL+"/metrics", token)
		want(t, queued, map[string]float64{
			`runq_queue_depth{queue="default"}`: 3,
			`runq_queue_depth{queue="q2"}`:      2,
			`runq_queue_scrape_errors_total`:    0,
		})
		for _, q := range []string{"default", "q2"} {
			if age := queued[`runq_queue_oldest_age_seconds{queue="`+q+`"}`]; age <= 0 || age > 60 {
				t.Errorf("runq_queue_oldest_age_seconds{queue=%q} = %v, want a few milliseconds", q, age)
			}
		}
		url := srv.URL + "/v1/tasks/" + recs.Tasks[0].ID
		for _, method := range []string{http.MethodGet, http.MethodGet, http.MethodDelete} {
			if status, out := do(t, method, url, token, ""); status != http.StatusOK {
				t.Fatalf("%s %s = %d %s, want 200", method, url, status, out)
			}
		}
		do(t, http.MethodGet, srv.URL+"/v1/tasks/not-an-id", token, "")
		do(t, http.MethodGet, srv.URL+"/no/such/page", token, "")
		if status, _ := do(t, http.MethodGet, srv.URL+"/metrics", "", ""); status != http.StatusUnauthorized {
			t.Errorf("GET /metrics without the token = %d, want 401", status)
		}

		got := scrape(t, srv.URL+"/metrics", token)
		want(t, got, map[string]float64{
			`runq_tasks_submitted_total{name="echo",queue="default"}`:                      2,
			`runq_tasks_submitted_total{name="sleep",queue="q2"}`:                          1,
			`runq_tasks_submitted_total{name="echo",queue="q2"}`:                           1,
			`runq_tasks_submitted_total{name="fail",queue="default"}`:                      1,
			`runq_tasks_canceled_total{name="echo",queue="q2"}`:                            1,
			`runq_http_requests_total{code="202",method="POST",route="/v1/tasks"}`:         3,
			`runq_http_requests_total{code="202",method="POST",route="/v1/tasks/batch"}`:   1,
			`runq_http_requests_total{code="200",method="GET",route="/v1/tasks/:id"}`:      2,
			`runq_http_requests_total{code="200",method="DELETE",route="/v1/tasks/:id"}`:   1,
			`runq_http_requests_total{code="400",method="GET",route="/v1/tasks/:id"}`:      1,
			`runq_http_requests_total{code="404",method="GET",route="unmatched"}`:          1,
			`runq_http_requests_total{code="401",method="GET",route="/metrics"}`:           1,
			`runq_http_request_duration_seconds_count{method="GET",route="/v1/tasks/:id"}`: 3,
		})
		for k := range got {
			if strings.Contains(k, recs.Tasks[0].ID) || strings.Contains(k, "/no/such") {
				t.Errorf("sample %s names a raw URL", k)
			}
		}
		if _, ok := got["go_goroutines"]; !ok {
			t.Error("no go_goroutines: the Go collector is not registered")
		}
	})
}

// TestAPIWithoutMetrics: an API given no Metrics has no /metrics.
func TestAPIWithoutMetrics(t *testing.T) {
	each(t, func(t *testing.T, s *bundle) {
		srv := s.apiServer(t, nil, "")
		if status, _ := do(t, http.MethodGet, srv.URL+"/metrics", "", ""); status != http.StatusNotFound {
			t.Errorf("GET /metrics = %d, want 404", status)
		}
	})
}

// TestAPICountsParkedPolls: a long poll parked until its task finishes is
// counted when it is answered, with its whole wait.
func TestAPICountsParkedPolls(t *testing.T) {
	each(t, func(t *testing.T, s *bundle) {
		srv := s.apiServer(t, metrics.NewAPI(s.metrics, nil), "")
		run(t, s.pool(tasks.PoolConfig{}).Run)
		status, out := do(t, http.MethodPost, srv.URL+"/v1/tasks", "", `{"name":"sleep","payload":{"ms":300}}`)
		var rec struct{ ID string }
		if err := json.Unmarshal([]byte(out), &rec); status != http.StatusAccepted || err != nil {
			t.Fatalf("POST /v1/tasks = %d %s (%v), want 202", status, out, err)
		}
		if status, out := do(t, http.MethodGet, srv.URL+"/v1/tasks/"+rec.ID+"?wait=10s", "", ""); status != http.StatusOK || !strings.Contains(out, `"succeeded"`) {
			t.Fatalf("long poll = %d %s, want 200 succeeded", status, out)
		}
		got := scrape(t, srv.URL+"/metrics", "")
		want(t, got, map[string]float64{
			`runq_http_requests_total{code="200",method="GET",route="/v1/tasks/:id"}`:      1,
			`runq_http_request_duration_seconds_count{method="GET",route="/v1/tasks/:id"}`: 1,
		})
		if sum := got[`runq_http_request_duration_seconds_sum{method="GET",route="/v1/tasks/:id"}`]; sum < 0.2 {
			t.Errorf("long poll counted as %.3fs, want its wait (about 0.3s)", sum)
		}
	})
}
