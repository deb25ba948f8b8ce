package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/api"
	"github.com/runq/runq/tasks"
)

// answerCase is a request whose answer TestAnswersMatchOpenAPI checks
// against api/openapi.json. In target, {queued}, {succeeded}, {failed},
// {canceled}, {cancel} and {missing} stand for the ids of fixtures' tasks.
type answerCase struct {
	method, target, body string
	contentType          string // "" means application/json when there is a body
	locked               bool   // sent, without a token, to an app that wants one
	want                 int
}

var bigBody = `{"name":"echo","payload":"` + strings.Repeat("x", api.DefaultBodyLimit) + `"}`

// answerCases run in order on one bundle: the ones that change a fixture
// come after those that read it.
var answerCases = []answerCase{
	{method: "GET", target: "/healthz", want: 200},
	{method: "HEAD", target: "/healthz", want: 200},
	{method: "GET", target: "/readyz", want: 200},
	{method: "HEAD", target: "/readyz", want: 200},
	{method: "GET", target: "/openapi.json", want: 200},
	{method: "HEAD", target: "/openapi.json", want: 200},
	{method: "GET", target: "/openapi.json", locked: true, want: 200},
	{method: "GET", target: "/healthz", locked: true, want: 200},

	{method: "POST", target: "/v1/tasks", body: `{"name":"echo","payload":{"n":[1,2]},"queue":"idle","max_retries":0,"timeout":"1m","result_ttl":"1h"}`, want: 202},
	{method: "POST", target: "/v1/tasks?pretty", body: `{"name":"echo","queue":null,"max_retries":null}`, want: 202},
	{method: "POST", target: "/v1/tasks", body: `{"name":"echo","queue":"idle","delay":"1h"}`, want: 202},
	{method: "POST", target: "/v1/tasks", body: `{"name":"echo","queue":"idle","run_at":"2001-02-03T04:05:06+07:00"}`, want: 202},
	{method: "POST", target: "/v1/tasks", body: `{"name":"echo","delay":"1s","run_at":"2030-01-02T15:04:05Z"}`, want: 400},
	{method: "POST", target: "/v1/tasks", body: `{"name":"echo","bogus":1}`, want: 400},
	{method: "POST", target: "/v1/tasks", body: `{"name":"echo","timeout":"soon"}`, want: 400},
	{method: "POST", target: "/v1/tasks", body: `[1]`, want: 400},
	{method: "POST", target: "/v1/tasks", body: `{"name":"echo"}`, locked: true, want: 401},
	{method: "POST", target: "/v1/tasks", body: bigBody, want: 413},
	{method: "POST", target: "/v1/tasks", body: `{"name":"echo"}`, contentType: "text/plain", want: 415},
	{method: "POST", target: "/v1/tasks", body: `{"name":"nobody.handles"}`, want: 422},

	{method: "POST", target: "/v1/tasks/batch", body: `{"tasks":[{"name":"echo","payload":1},{"name":"count","queue":"idle"}]}`, want: 202},
	{method: "POST", target: "/v1/tasks/batch", body: `{"tasks":[{"name":"echo"},{"name":"a b"}]}`, want: 400},
	{method: "POST", target: "/v1/tasks/batch", body: `{"tasks":[]}`, want: 400},
	{method: "POST", target: "/v1/tasks/batch", body: `{"tasks":[{"name":"nobody.handles"}]}`, want: 422},
	{method: "POST", target: "/v1/tasks/batch", body: `{"tasks":[{"name":"echo"}]}`, contentType: "text/plain", want: 415},
	{method: "POST", target: "/v1/tasks/batch", body: `{"tasks":[{"name":"echo"}]}`, locked: true, want: 401},

	{method: "GET", target: "/v1/tasks/{queued}", want: 200},
	{method: "GET", target: "/v1/tasks/{queued}?pretty", want: 200},
	{method: "GET", target: "/v1/tasks/{succeeded}?wait=10s", want: 200},
	{method: "GET", target: "/v1/tasks/{failed}", want: 200},
	{method: "GET", target: "/v1/tasks/{scheduled}", want: 200},
	{method: "GET", target: "/v1/tasks/{canceled}", want: 200},
	{method: "GET", target: "/v1/tasks/{queued}?wait=1ms", want: 200},
	{method: "GET", target: "/v1/tasks/not-a-uuid", want: 400},
	{method: "GET", target: "/v1/tasks/{queued}?wait=soon", want: 400},
	{method: "GET", target: "/v1/tasks/{missing}", want: 404},
	{method: "GET", target: "/v1/tasks/{queued}", locked: true, want: 401},
	{method: "HEAD", target: "/v1/tasks/{queued}", want: 200},
	{method: "HEAD", target: "/v1/tasks/{missing}", want: 404},
	{method: "HEAD", target: "/v1/tasks/{queued}", locked: true, want: 401},

	{method: "GET", target: "/v1/tasks", want: 200},
	{method: "GET", target: "/v1/tasks?queue=idle&status=queued&name=echo&limit=1", want: 200},
	{method: "GET", target: "/v1/tasks?status=failed", want: 200},
	{method: "GET", target: "/v1/tasks?status=scheduled", want: 200},
	{method: "GET", target: "/v1/tasks?limit=0", want: 400},
	{method: "GET", target: "/v1/tasks?status=bogus", want: 400},
	{method: "GET", target: "/v1/tasks?queue=a%20b", want: 400},
	{method: "GET", target: "/v1/tasks?cursor=not-a-cursor", want: 400},
	{method: "GET", target: "/v1/tasks?colour=red", want: 400},
	{method: "GET", target: "/v1/tasks", locked: true, want: 401},
	{method: "HEAD", target: "/v1/tasks", want: 200},
	{method: "GET", target: "/v1/queues", want: 200},
	{method: "GET", target: "/v1/queues?pretty", want: 200},
	{method: "GET", target: "/v1/queues", locked: true, want: 401},
	{method: "GET", target: "/v1/queues/idle", want: 200},
	{method: "GET", target: "/v1/queues/nothing-here", want: 200},
	{method: "GET", target: "/v1/queues/a%20b", want: 400},
	{method: "HEAD", target: "/v1/queues/idle", want: 200},
	{method: "GET", target: "/v1/workers", want: 200},
	{method: "GET", target: "/v1/workers", locked: true, want: 401},
	{method: "GET", target: "/v1/handlers", want: 200},
	{method: "GET", target: "/v1/handlers", locked: true, want: 401},
	{method: "GET", target: "/v1/schedules", want: 200},
	{method: "HEAD", target: "/v1/schedules", want: 200},
	{method: "GET", target: "/v1/schedules", locked: true, want: 401},

	{method: "DELETE", target: "/v1/tasks/{cancel}", want: 200},
	{method: "DELETE", target: "/v1/tasks/{cancel}", want: 200},
	{method: "DELETE", target: "/v1/tasks/{scheduled}", want: 200},
	{method: "DELETE", target: "/v1/tasks/{succeeded}", want: 409},
	{method: "DELETE", target: "/v1/tasks/{missing}", want: 404},
	{method: "DELETE", target: "/v1/tasks/not-a-uuid", want: 400},
	{method: "DELETE", target: "/v1/tasks/{queued}", locked: true, want: 401},
	{method: "POST", target: "/v1/tasks/{failed}/retry", want: 200},
	{method: "POST", target: "/v1/tasks/{canceled}/retry", want: 200},
	{method: "POST", target: "/v1/tasks/{succeeded}/retry", want: 409},
	{method: "POST", target: "/v1/tasks/{missing}/retry", want: 404},
	{method: "POST", target: "/v1/tasks/not-a-uuid/retry", want: 400},
	{method: "POST", target: "/v1/tasks/{succeeded}/retry", locked: true, want: 401},
	{method: "POST", target: "/v1/queues/idle/purge?status=canceled", want: 200},
	{method: "POST", target: "/v1/queues/idle/purge?status=queued", want: 200},
	{method: "POST", target: "/v1/queues/nothing-here/purge?status=failed", want: 200},
	{method: "POST", target: "/v1/queues/idle/purge", want: 400},
	{method: "POST", target: "/v1/queues/idle/purge?status=running", want: 400},
	{method: "POST", target: "/v1/queues/a%20b/purge?status=failed", want: 400},
	{method: "POST", target: "/v1/queues/idle/purge?status=failed", locked: true, want: 401},
	{method: "PUT", target: "/v1/queues/steered", body: `{"max_length": 10}`, want: 200},
	{method: "PUT", target: "/v1/queues/steered", body: `{"paused": true, "max_running": 3}`, want: 200},
	{method: "PUT", target: "/v1/queues/steered", body: `{"max_length": null, "max_running": 0, "paused": false}`, want: 200},
	{method: "PUT", target: "/v1/queues/steered", body: `{}`, want: 400},
	{method: "PUT", target: "/v1/queues/steered", body: `{"colour": 1}`, want: 400},
	{method: "PUT", target: "/v1/queues/steered", body: `{"max_length": -1}`, want: 400},
	{method: "PUT", target: "/v1/queues/steered", body: `{"max_running": "3"}`, want: 400},
	{method: "PUT", target: "/v1/queues/steered", body: `{"paused": null}`, want: 400},
	{method: "PUT", target: "/v1/queues/a%20b", body: `{"paused": true}`, want: 400},
	{method: "PUT", target: "/v1/queues/steered", body: `{"paused": true}`, contentType: "text/plain", want: 415},
	{method: "PUT", target: "/v1/queues/steered", body: `{"paused": true}`, locked: true, want: 401},
	{method: "POST", target: "/v1/queues/steered/pause", want: 200},
	{method: "POST", target: "/v1/queues/steered/resume", want: 200},
	{method: "POST", target: "/v1/queues/steered/pause?now=1", want: 400},
	{method: "POST", target: "/v1/queues/a%20b/resume", want: 400},
	{method: "POST", target: "/v1/queues/steered/pause", locked: true, want: 401},

	{method: "PUT", target: "/v1/queues/full", body: `{"max_length": 1}`, want: 200},
	{method: "POST", target: "/v1/tasks?wait=1s", body: `{"name":"echo","queue":"full"}`, want: 202},
	{method: "POST", target: "/v1/tasks", body: `{"name":"echo","queue":"full"}`, want: 429},
	{method: "POST", target: "/v1/tasks?wait=20ms&pretty", body: `{"name":"echo","queue":"full"}`, want: 429},
	{method: "POST", target: "/v1/tasks?wait=soon", body: `{"name":"echo","queue":"full"}`, want: 400},
	{method: "POST", target: "/v1/tasks/batch", body: `{"tasks":[{"name":"echo"},{"name":"echo","queue":"full"}]}`, want: 429},
	{method: "POST", target: "/v1/tasks/batch?wait=20ms", body: `{"tasks":[{"name":"echo","queue":"full"}]}`, want: 429},
	{method: "POST", target: "/v1/tasks/batch?wait=-1s", body: `{"tasks":[{"name":"echo","queue":"full"}]}`, want: 400},

	{method: "POST", target: "/v1/tasks", body: `{"name":"echo","queue":"idle","idempotency_key":"oa-1"}`, want: 202},
	{method: "POST", target: "/v1/tasks", body: `{"name":"echo","queue":"idle","idempotency_key":"oa-1"}`, want: 200},
	{method: "POST", target: "/v1/tasks", body: `{"name":"echo","queue":"idle","idempotency_key":"oa-1","payload":2}`, want: 422},
	{method: "POST", target: "/v1/tasks", body: `{"name":"echo","queue":"idle","unique":{"key":"oa","until":"finished"}}`, want: 202},
	{method: "POST", target: "/v1/tasks?pretty", body: `{"name":"echo","queue":"idle","unique":{"key":"oa","for":"1h"}}`, want: 200},
	{method: "POST", target: "/v1/tasks", body: `{"name":"echo","queue":"idle","unique":{"key":"oa","for":"1h"},"on_conflict":"reject"}`, want: 409},
	{method: "POST", target: "/v1/tasks", body: `{"name":"echo","unique":{"key":"oa","for":"1h","until":"started"}}`, want: 400},
	{method: "POST", target: "/v1/tasks/batch", body: `{"tasks":[{"name":"echo","queue":"idle","idempotency_key":"oa-2"}]}`, want: 202},
	{method: "POST", target: "/v1/tasks/batch", body: `{"tasks":[{"name":"echo","queue":"idle","idempotency_key":"oa-2"}]}`, want: 200},
	{method: "POST", target: "/v1/tasks/batch", body: `{"tasks":[{"name":"echo","queue":"idle","unique":{"key":"oa","for":"1h"},"on_conflict":"reject"}]}`, want: 409},
	{method: "POST", target: "/v1/tasks/batch", body: `{"tasks":[{"name":"echo","queue":"idle","idempotency_key":"oa-2","payload":3}]}`, want: 422},
}

// TestAnswersMatchOpenAPI sends answerCases to the API with tasks in each
// status and validates every answer against api/openapi.json.
func TestAnswersMatchOpenAPI(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		open := validated(t, s.app)
		locked := validated(t, s.api(api.Config{APIToken: "secret", MaxWait: testMaxWait}))
		ids := s.fixtures(t)
		s.startSchedules(t)
		s.waitTicked(t) // so that the listing shows every field
		for _, tt := range answerCases {
			h := open
			if tt.locked {
				h = locked
			}
			ct := tt.contentType
			if ct == "" && tt.body != "" {
				ct = "application/json"
			}
			rec := serve(h, newRequest(tt.method, ids.Replace(tt.target), ct, tt.body))
			if rec.Code != tt.want {
				t.Errorf("%s %s (locked %t) = %d %.200s, want %d", tt.method, tt.target, tt.locked, rec.Code, rec.Body, tt.want)
			}
		}
	})
}

// fixtures makes a task in each status the cases name, plus one to
// cancel, and a second worker, which takes two queues by weight; it
// returns the replacer of the tasks' names in targets.
func (s *bundle) fixtures(t *testing.T) *strings.Replacer {
	t.Helper()
	run(t, "Pool", tasks.NewPool(s.be.Client, s.reg, tasks.PoolConfig{Weights: map[string]int{"spare.a": 2, "spare.b": 1},
		BatchWait: 5 * time.Millisecond, Grace: 200 * time.Millisecond, Prefix: s.be.Prefix, Logger: quiet}).Run)
	for end := time.Now().Add(deadline); ; time.Sleep(10 * time.Millisecond) {
		if ws, err := s.client.Workers(context.Background()); err == nil && len(ws) == 2 {
			break
		} else if time.Now().After(end) {
			t.Fatalf("Workers = %v, %v; want the two pools", ws, err)
		}
	}
	queued := s.submit(t, `{"name":"echo","queue":"idle"}`)
	cancel := s.submit(t, `{"name":"echo","queue":"idle"}`)
	scheduled := s.submit(t, `{"name":"echo","queue":"idle","delay":"1h"}`)
	canceled := s.submit(t, `{"name":"echo","queue":"idle"}`)
	if rec := serve(s.app, newRequest(http.MethodDelete, "/v1/tasks/"+canceled.ID, "", "")); rec.Code != http.StatusOK {
		t.Fatalf("DELETE /v1/tasks/%s = %d %s, want 200", canceled.ID, rec.Code, rec.Body)
	}
	succeeded := s.submit(t, `{"name":"echo","payload":{"a":[1,"two",null]}}`)
	failed := s.submit(t, `{"name":"skip","payload":{"reason":"a test"}}`)
	for id, want := range map[string]string{succeeded.ID: "succeeded", failed.ID: "failed"} {
		if got := get(t, s.app, "/v1/tasks/"+id+"?wait=10s"); got.Status != want {
			t.Fatalf("task %s is %s after waiting, want %s", id, got.Status, want)
		}
	}
	return strings.NewReplacer("{queued}", queued.ID, "{cancel}", cancel.ID, "{canceled}", canceled.ID,
		"{succeeded}", succeeded.ID, "{failed}", failed.ID, "{scheduled}", scheduled.ID, "{missing}", uuid.NewString())
}
