package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/runq/runq/tasks"
)

// decodeJSON decodes rec's body into v, checking the status first.
func decodeJSON(t *testing.T, rec *httptest.ResponseRecorder, want int, v any) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("status = %d, want %d (body %s)", rec.Code, want, rec.Body)
	}
	checkJSONType(t, rec)
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
}

func TestListAndInspectOverHTTP(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		s.startPool(t, "ops", 2)
		ok := s.submit(t, `{"name":"echo","queue":"ops","payload":1}`)
		bad := s.submit(t, `{"name":"skip","queue":"ops","payload":{"reason":"no"}}`)
		for _, id := range []string{ok.ID, bad.ID} {
			if got := get(t, s.app, "/v1/tasks/"+id+"?wait=10s"); got.Status != "succeeded" && got.Status != "failed" {
				t.Fatalf("task %s = %s, want it finished", id, got.Status)
			}
		}

		var page tasks.TaskPage
		decodeJSON(t, serve(s.app, newRequest("GET", "/v1/tasks?queue=ops&status=failed&limit=10", "", "")), 200, &page)
		if len(page.Tasks) != 1 || page.Tasks[0].ID.String() != bad.ID || page.NextCursor != "" {
			t.Errorf("GET /v1/tasks?status=failed = %+v, want the skipped task alone, no next cursor", page)
		}
		decodeJSON(t, serve(s.app, newRequest("GET", "/v1/tasks?limit=1", "", "")), 200, &page)
		if len(page.Tasks) != 1 || page.Tasks[0].ID.String() != bad.ID || page.NextCursor == "" {
			t.Fatalf("GET /v1/tasks?limit=1 = %+v, want the newest task and a cursor", page)
		}
		decodeJSON(t, serve(s.app, newRequest("GET", "/v1/tasks?limit=1&cursor="+page.NextCursor, "", "")), 200, &page)
		if len(page.Tasks) != 1 || page.Tasks[0].ID.String() != ok.ID {
			t.Errorf("second page = %+v, want the echo task", page)
		}

		var q tasks.QueueInfo
		eventually(t, "the succeeded task counted (its worker reports within a second)", func() bool {
			decodeJSON(t, serve(s.app, newRequest("GET", "/v1/queues/ops", "", "")), 200, &q)
			return q.Succeeded == 1
		})
		if q.Name != "ops" || q.Failed != 1 {
			t.Errorf("GET /v1/queues/ops = %+v, want 1 succeeded and 1 failed", q)
		}
		var qs struct{ Queues []tasks.QueueInfo }
		decodeJSON(t, serve(s.app, newRequest("GET", "/v1/queues", "", "")), 200, &qs)
		if len(qs.Queues) == 0 {
			t.Errorf("GET /v1/queues lists no queue")
		}
		var hs struct{ Handlers []tasks.HandlerInfo }
		decodeJSON(t, serve(s.app, newRequest("GET", "/v1/handlers", "", "")), 200, &hs)
		if len(hs.Handlers) == 0 {
			t.Errorf("GET /v1/handlers lists no handler")
		}
		eventually(t, "the pool among the workers", func() bool {
			var ws struct{ Workers []tasks.WorkerInfo }
			rec := serve(s.app, newRequest("GET", "/v1/workers", "", ""))
			return rec.Code == 200 && json.Unmarshal(rec.Body.Bytes(), &ws) == nil &&
				slices.ContainsFunc(ws.Workers, func(w tasks.WorkerInfo) bool { return slices.Equal(w.Queues, []string{"ops"}) })
		})
	})
}

func TestRetryAndPurgeOverHTTP(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		s.startPool(t, "ops", 2)
		bad := s.submit(t, `{"name":"skip","queue":"ops","payload":{"reason":"no"}}`)
		ok := s.submit(t, `{"name":"echo","queue":"ops"}`)
		get(t, s.app, "/v1/tasks/"+bad.ID+"?wait=10s")
		get(t, s.app, "/v1/tasks/"+ok.ID+"?wait=10s")

		if msg := errorOf(t, serve(s.app, newRequest("POST", "/v1/tasks/"+ok.ID+"/retry", "", "")), http.StatusConflict); msg == "" {
			t.Error("retry of a succeeded task: no error text")
		}
		rec := serve(s.app, newRequest("POST", "/v1/tasks/"+bad.ID+"/retry", "", ""))
		if rec.Code != http.StatusOK || decodeRecord(t, rec).ID != bad.ID {
			t.Fatalf("POST retry of a failed task = %d %s, want 200 and its record", rec.Code, rec.Body)
		}
		if got := get(t, s.app, "/v1/tasks/"+bad.ID+"?wait=10s"); got.Status != "failed" || got.Attempts != 2 {
			t.Errorf("retried task = %+v, want failed again after 2 attempts", got)
		}

		var res struct {
			Queue  string `json:"queue"`
			Status string `json:"status"`
			Purged int64  `json:"purged"`
		}
		decodeJSON(t, serve(s.app, newRequest("POST", "/v1/queues/ops/purge?status=succeeded", "", "")), 200, &res)
		if res.Queue != "ops" || res.Status != "succeeded" || res.Purged != 1 {
			t.Errorf("purge = %+v, want 1 succeeded task of ops", res)
		}
		errorOf(t, serve(s.app, newRequest("GET", "/v1/tasks/"+ok.ID, "", "")), http.StatusNotFound)
	})
}
