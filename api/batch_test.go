package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestBatchSubmit(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		body := `{"tasks":[{"name":"echo","payload":1},{"name":"echo","payload":"two","queue":"default"},{"name":"count"},{"name":"echo","queue":"parked"}]}`
		rec := serve(s.app, newRequest(http.MethodPost, "/v1/tasks/batch", "application/json", body))
		if rec.Code != http.StatusAccepted {
			t.Fatalf("POST /v1/tasks/batch = %d %s, want 202", rec.Code, rec.Body)
		}
		var out struct{ Tasks []record }
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || len(out.Tasks) != 4 {
			t.Fatalf("batch answer %s: %v; want 4 records", rec.Body, err)
		}
		if out.Tasks[3].Queue != "parked" || out.Tasks[0].Status != "queued" {
			t.Errorf("batch records %+v: want them in request order, queued", out.Tasks)
		}
		for i, want := range []string{"1", `"two"`} {
			got := get(t, s.app, "/v1/tasks/"+out.Tasks[i].ID+"?wait=5s")
			if got.Status != "succeeded" || string(got.Result) != want {
				t.Errorf("task %d of the batch: %s result %s, want succeeded %s", i, got.Status, got.Result, want)
			}
		}
	})
}

func TestBatchIsAllOrNothing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		before := s.keys(t)
		many := make([]string, 1001)
		for i := range many {
			many[i] = `{"name":"echo"}`
		}
		tests := []struct {
			body       string
			code       int
			wantSubstr string
		}{
			{`{"tasks":[{"name":"echo"},{"name":"a b"},{"name":"echo"}]}`, http.StatusBadRequest, "tasks[1]"},
			{`{"tasks":[{"name":"echo"},{"name":"echo","bogus":1}]}`, http.StatusBadRequest, `unknown field "bogus"`},
			{`{"tasks":[{"name":"echo"},{"name":"nobody.handles"}]}`, http.StatusUnprocessableEntity, "tasks[1]"},
			{`{"tasks":[{"name":"echo"},{"name":"echo","queue":"a{b}"}]}`, http.StatusBadRequest, "tasks[1]"},
			{`{"tasks":[]}`, http.StatusBadRequest, "1 to 1000"},
			{`{"tasks":[` + strings.Join(many, ",") + `]}`, http.StatusBadRequest, "1 to 1000"},
			{`{"tasks":{}}`, http.StatusBadRequest, "array"},
			{`{"tasks":[],"extra":1}`, http.StatusBadRequest, "nothing else"},
			{`{"tasks":[{"name":"echo"}],"tasks":[{"name":"echo"}]}`, http.StatusBadRequest, "given twice"},
			{`{}`, http.StatusBadRequest, "required"},
			{`[{"name":"echo"}]`, http.StatusBadRequest, "object"},
			{`{"tasks":[{"name":"echo"}]}]`, http.StatusBadRequest, "unexpected data"},
		}
		for _, tt := range tests {
			rec := serve(s.app, newRequest(http.MethodPost, "/v1/tasks/batch", "application/json", tt.body))
			if msg := errorOf(t, rec, tt.code); !strings.Contains(msg, tt.wantSubstr) {
				t.Errorf("POST batch %.60s: error %q, want it to contain %q", tt.body, msg, tt.wantSubstr)
			}
		}
		s.checkKeysUnchanged(t, before)
		if rec := serve(s.app, newRequest(http.MethodPost, "/v1/tasks/batch", "text/plain", `{"tasks":[{"name":"echo"}]}`)); rec.Code != http.StatusUnsupportedMediaType {
			t.Errorf("batch with text/plain = %d, want 415", rec.Code)
		}
	})
}
