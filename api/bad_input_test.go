package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/runq/runq/api"
	"github.com/runq/runq/broker/redistest"
)

// badInput is one request the API must refuse without writing to Redis.
type badInput struct {
	name        string
	method      string // "" means POST
	target      string // "" means /v1/tasks; {id} is a finished task, {unknown} a valid unknown ID
	contentType string // "" means application/json; "none" sends no Content-Type
	body        string
	chunked     bool // send the body without a Content-Length
	small       bool // use an app with a BodyLimit of 256 bytes
	want        int
	wantInError string // a substring of the error, "" for any
}

var (
	twoMiB       = `{"name":"echo","payload":"` + strings.Repeat("a", 2<<20) + `"}`
	overSmall    = `{"name":"echo","payload":"` + strings.Repeat("a", 300) + `"}`
	longName     = strings.Repeat("a", 1000)
	longestName  = strings.Repeat("a", 128)
	longQueue    = strings.Repeat("q", 65)
	traversal    = url.PathEscape("../../etc/passwd")
	braceID      = url.PathEscape("{0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77}")
	urnID        = "urn:uuid:0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77"
	hexID        = "0193f0c27c1a7b3e8a5d2f1e0c9b4a77"
	badInputList = []badInput{
		// Syntax.
		{name: "invalid JSON", body: `{"name": echo}`, want: 400, wantInError: "invalid JSON"},
		{name: "truncated object", body: `{"name":"echo"`, want: 400},
		{name: "truncated payload", body: `{"name":"echo","payload":{"a":`, want: 400},
		{name: "missing payload value", body: `{"name":"echo","payload":}`, want: 400},
		{name: "empty body", body: "", want: 400, wantInError: "empty"},
		{name: "blank body", body: " \n\t ", want: 400, wantInError: "empty"},
		{name: "array", body: `[{"name":"echo"}]`, want: 400, wantInError: "object"},
		{name: "string", body: `"echo"`, want: 400, wantInError: "object"},
		{name: "number", body: `42`, want: 400, wantInError: "object"},
		{name: "null", body: `null`, want: 400},
		{name: "empty object", body: `{}`, want: 400, wantInError: "name"},
		// Names.
		{name: "missing name", body: `{"payload":{"a":1}}`, want: 400, wantInError: "name"},
		{name: "empty name", body: `{"name":""}`, want: 400, wantInError: "name"},
		{name: "name is a number", body: `{"name":5}`, want: 400, wantInError: "name"},
		{name: "name is an object", body: `{"name":{"a":1}}`, want: 400, wantInError: "name"},
		{name: "name is null", body: `{"name":null}`, want: 400, wantInError: "name"},
		{name: "name with spaces", body: `{"name":"echo task"}`, want: 400, wantInError: "name"},
		{name: "name of 1000 characters", body: `{"name":"` + longName + `"}`, want: 400, wantInError: "name"},
		{name: "name of 129 characters", body: `{"name":"` + longestName + `a"}`, want: 400, wantInError: "name"},
		{name: "name with escaped newline", body: `{"name":"echo\n"}`, want: 400, wantInError: "name"},
		{name: "name with escaped NUL", body: `{"name":"\u0000echo"}`, want: 400, wantInError: "name"},
		{name: "name with raw control character", body: "{\"name\":\"ec\x01ho\"}", want: 400},
		{name: "name with invalid UTF-8", body: "{\"name\":\"ech\xffo\"}", want: 400},
		{name: "name with non-ASCII letter", body: `{"name":"écho"}`, want: 400, wantInError: "name"},
		{name: "name starting with a dash", body: `{"name":"-echo"}`, want: 400, wantInError: "name"},
		{name: "unknown name", body: `{"name":"nope"}`, want: 422, wantInError: `"nope"`},
		{name: "unknown name of 128 characters", body: `{"name":"` + longestName + `"}`, want: 422, wantInError: longestName},
		// Content type.
		{name: "text/plain", contentType: "text/plain", body: `{"name":"echo"}`, want: 415, wantInError: "application/json"},
		{name: "no content type", contentType: "none", body: `{"name":"echo"}`, want: 415, wantInError: "application/json"},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: `name=echo`, want: 415},
		{name: "json-like type", contentType: "application/jsonx", body: `{"name":"echo"}`, want: 415},
		{name: "malformed content type", contentType: "application/json; ;", body: `{"name":"echo"}`, want: 415},
		// Size.
		{name: "over a small limit", small: true, body: overSmall, want: 413},
		{name: "over a small limit, chunked", small: true, chunked: true, body: overSmall, want: 413},
		{name: "2 MiB with the default limit", body: twoMiB, want: 413},
		{name: "2 MiB with the default limit, chunked", chunked: true, body: twoMiB, want: 413},
		// Fields and options.
		{name: "unknown field", body: `{"name":"echo","bogus":1}`, want: 400, wantInError: "bogus"},
		{name: "misspelt option", body: `{"name":"echo","max_retry":2}`, want: 400, wantInError: "max_retry"},
		{name: "timeout not a duration", body: `{"name":"echo","timeout":"abc"}`, want: 400, wantInError: "abc"},
		{name: "timeout negative", body: `{"name":"echo","timeout":"-5s"}`, want: 400},
		{name: "timeout a number", body: `{"name":"echo","timeout":5}`, want: 400},
		{name: "timeout empty", body: `{"name":"echo","timeout":""}`, want: 400},
		{name: "timeout too long", body: `{"name":"echo","timeout":"1000h"}`, want: 400, wantInError: "timeout"},
		{name: "timeout under 1ms", body: `{"name":"echo","timeout":"500us"}`, want: 400, wantInError: "timeout"},
		{name: "result_ttl not a duration", body: `{"name":"echo","result_ttl":"abc"}`, want: 400, wantInError: "abc"},
		{name: "result_ttl negative", body: `{"name":"echo","result_ttl":"-1s"}`, want: 400},
		{name: "result_ttl a number", body: `{"name":"echo","result_ttl":60}`, want: 400},
		{name: "result_ttl under 1s", body: `{"name":"echo","result_ttl":"500ms"}`, want: 400, wantInError: "result_ttl"},
		{name: "result_ttl over 30 days", body: `{"name":"echo","result_ttl":"1000000h"}`, want: 400, wantInError: "result_ttl"},
		{name: "callback_url a number", body: `{"name":"echo","callback_url":5}`, want: 400, wantInError: "callback_url"},
		{name: "callback_url not http", body: `{"name":"echo","callback_url":"ftp://example.com/x"}`, want: 400, wantInError: "http"},
		{name: "callback_url relative", body: `{"name":"echo","callback_url":"/hook"}`, want: 400, wantInError: "callback_url"},
		{name: "callback_url with credentials", body: `{"name":"echo","callback_url":"https://u:p@example.com/"}`, want: 400, wantInError: "credentials"},
		{name: "callback_url over 2 KiB", body: `{"name":"echo","callback_url":"https://example.com/` + strings.Repeat("a", 2048) + `"}`, want: 400, wantInError: "2048"},
		{name: "callback_url on loopback", body: `{"name":"echo","callback_url":"http://127.0.0.1:8080/hook"}`, want: 400, wantInError: "internal"},
		{name: "callback_url on a private address", body: `{"name":"echo","callback_url":"http://192.168.1.10/hook"}`, want: 400, wantInError: "internal"},
		{name: "callback_url on link-local", body: `{"name":"echo","callback_url":"http://169.254.169.254/"}`, want: 400, wantInError: "internal"},
		{name: "callback_url on localhost", body: `{"name":"echo","callback_url":"http://localhost/"}`, want: 400, wantInError: "loopback"},
		{name: "max_retries negative", body: `{"name":"echo","max_retries":-1}`, want: 400, wantInError: "max_retries"},
		{name: "max_retries over the limit", body: `{"name":"echo","max_retries":1001}`, want: 400, wantInError: "max_retries"},
		{name: "max_retries huge", body: `{"name":"echo","max_retries":99999999999999999999}`, want: 400, wantInError: "max_retries"},
		{name: "max_retries exponent", body: `{"name":"echo","max_retries":1e20}`, want: 400, wantInError: "max_retries"},
		{name: "max_retries fraction", body: `{"name":"echo","max_retries":1.5}`, want: 400, wantInError: "max_retries"},
		{name: "max_retries a string", body: `{"name":"echo","max_retries":"3"}`, want: 400, wantInError: "max_retries"},
		// Delays.
		{name: "delay and run_at", body: `{"name":"echo","delay":"1s","run_at":"2030-01-02T15:04:05Z"}`, want: 400, wantInError: "one or the other"},
		{name: "delay negative", body: `{"name":"echo","delay":"-90s"}`, want: 400, wantInError: "delay"},
		{name: "delay over 365 days", body: `{"name":"echo","delay":"8761h"}`, want: 400, wantInError: "delay"},
		{name: "delay a number", body: `{"name":"echo","delay":90}`, want: 400, wantInError: "delay"},
		{name: "delay not a duration", body: `{"name":"echo","delay":"soon"}`, want: 400, wantInError: "soon"},
		{name: "run_at a word", body: `{"name":"echo","run_at":"tomorrow"}`, want: 400, wantInError: "RFC 3339"},
		{name: "run_at with a space", body: `{"name":"echo","run_at":"2030-01-02 15:04:05Z"}`, want: 400, wantInError: "run_at"},
		{name: "run_at without a zone", body: `{"name":"echo","run_at":"2030-01-02T15:04:05"}`, want: 400, wantInError: "run_at"},
		{name: "run_at a month 13", body: `{"name":"echo","run_at":"2030-13-02T15:04:05Z"}`, want: 400, wantInError: "run_at"},
		{name: "run_at a number", body: `{"name":"echo","run_at":1893596645}`, want: 400, wantInError: "run_at"},
		{name: "run_at over 365 days ahead", body: `{"name":"echo","run_at":"2999-01-01T00:00:00Z"}`, want: 400, wantInError: "365 days"},
		{name: "batch with a bad delay", target: "/v1/tasks/batch", body: `{"tasks":[{"name":"echo","delay":"1m"},{"name":"echo","delay":"-1m"}]}`,
			want: 400, wantInError: "tasks[1]"},
		{name: "batch with both", target: "/v1/tasks/batch", body: `{"tasks":[{"name":"echo"},{"name":"echo","delay":"1m","run_at":"2030-01-02T15:04:05Z"}]}`,
			want: 400, wantInError: "tasks[1]"},
		// Queues.
		{name: "queue with braces", body: `{"name":"echo","queue":"{default}"}`, want: 400, wantInError: "queue"},
		{name: "queue with a brace", body: `{"name":"echo","queue":"a}b"}`, want: 400, wantInError: "queue"},
		{name: "queue with a colon", body: `{"name":"echo","queue":"a:b"}`, want: 400, wantInError: "queue"},
		{name: "queue with a space", body: `{"name":"echo","queue":"a b"}`, want: 400, wantInError: "queue"},
		{name: "queue of 65 characters", body: `{"name":"echo","queue":"` + longQueue + `"}`, want: 400, wantInError: "queue"},
		{name: "queue with NUL", body: `{"name":"echo","queue":"q\u0000"}`, want: 400, wantInError: "queue"},
		{name: "queue a number", body: `{"name":"echo","queue":5}`, want: 400, wantInError: "queue"},
		// Trailing data.
		{name: "second object", body: `{"name":"echo"} {"name":"echo"}`, want: 400},
		{name: "trailing word", body: `{"name":"echo"}x`, want: 400},
		{name: "trailing null", body: `{"name":"echo"} null`, want: 400},
		{name: "trailing close brace", body: `{"name":"echo"}}`, want: 400},
		{name: "trailing close bracket", body: `{"name":"echo"}]`, want: 400},
		// GET and its wait.
		{name: "wait not a duration", method: "GET", target: "/v1/tasks/{id}?wait=abc", want: 400, wantInError: "wait"},
		{name: "wait negative", method: "GET", target: "/v1/tasks/{id}?wait=-1s", want: 400, wantInError: "wait"},
		{name: "wait without unit", method: "GET", target: "/v1/tasks/{id}?wait=10", want: 400, wantInError: "wait"},
		{name: "wait overflowing", method: "GET", target: "/v1/tasks/{id}?wait=9999999999999h", want: 400, wantInError: "wait"},
		{name: "GET unknown id", method: "GET", target: "/v1/tasks/{unknown}", want: 404, wantInError: "not found"},
		{name: "GET unknown id with wait", method: "GET", target: "/v1/tasks/{unknown}?wait=1s", want: 404, wantInError: "not found"},
		{name: "GET path traversal", method: "GET", target: "/v1/tasks/" + traversal, want: 400, wantInError: "id"},
		{name: "GET word", method: "GET", target: "/v1/tasks/xyz", want: 400, wantInError: "id"},
		{name: "GET braced UUID", method: "GET", target: "/v1/tasks/" + braceID, want: 400, wantInError: "id"},
		{name: "GET URN UUID", method: "GET", target: "/v1/tasks/" + urnID, want: 400, wantInError: "id"},
		{name: "GET UUID without hyphens", method: "GET", target: "/v1/tasks/" + hexID, want: 400, wantInError: "id"},
		{name: "GET UUID with a suffix", method: "GET", target: "/v1/tasks/{unknown}x", want: 400, wantInError: "id"},
		// DELETE.
		{name: "DELETE unknown id", method: "DELETE", target: "/v1/tasks/{unknown}", want: 404, wantInError: "not found"},
		{name: "DELETE path traversal", method: "DELETE", target: "/v1/tasks/" + traversal, want: 400, wantInError: "id"},
		{name: "DELETE word", method: "DELETE", target: "/v1/tasks/xyz", want: 400, wantInError: "id"},
		// Routes.
		{name: "unknown route", method: "GET", target: "/nope", want: 404},
		{name: "unknown version", method: "POST", target: "/v2/tasks", body: `{"name":"echo"}`, want: 404},
		{name: "PUT on the collection", method: "PUT", target: "/v1/tasks", body: `{"name":"echo"}`, want: 405},
		// Listing and operating.
		{name: "list limit 0", method: "GET", target: "/v1/tasks?limit=0", want: 400},
		{name: "list limit over 1000", method: "GET", target: "/v1/tasks?limit=1001", want: 400},
		{name: "list bad status", method: "GET", target: "/v1/tasks?status=done", want: 400},
		{name: "list bad queue", method: "GET", target: "/v1/tasks?queue=a%7Bb", want: 400},
		{name: "list bad name", method: "GET", target: "/v1/tasks?name=-x", want: 400},
		{name: "list bad cursor", method: "GET", target: "/v1/tasks?cursor=nope", want: 400},
		{name: "list misspelled filter", method: "GET", target: "/v1/tasks?staus=failed", want: 400},
		{name: "purge without status", method: "POST", target: "/v1/queues/default/purge", want: 400},
		{name: "purge running", method: "POST", target: "/v1/queues/default/purge?status=running", want: 400},
		{name: "purge bad queue", method: "POST", target: "/v1/queues/a%7Bb/purge?status=failed", want: 400},
		{name: "retry bad id", method: "POST", target: "/v1/tasks/xyz/retry", want: 400},
		{name: "retry unknown task", method: "POST", target: "/v1/tasks/0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77/retry", want: 404},
		{name: "PUT on a task", method: "PUT", target: "/v1/tasks/{id}", body: `{"name":"echo"}`, want: 405},
	}
)

// TestBadInputIsRefusedWithoutWrites runs without a pool on the queues the
// cases name, so a request wrongly accepted leaves its task queued: it shows
// in its own case's key comparison and does not disturb the next case's.
func TestBadInputIsRefusedWithoutWrites(t *testing.T) {
	t.Parallel()
	for _, be := range redistest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			testBadInput(t, setupIdle(t, be))
		})
	}
}

func testBadInput(t *testing.T, s *bundle) {
	t.Helper()
	small := s.api(api.Config{BodyLimit: 256})
	s.startPool(t, "done", 1)
	done := s.submit(t, `{"name":"echo","queue":"done","payload":1}`)
	if got := get(t, s.app, "/v1/tasks/"+done.ID+"?wait=10s"); got.Status != "succeeded" {
		t.Fatalf("GET ?wait=10s = status %q, want succeeded", got.Status)
	}
	// A UUID that differs from a task's ID only in its version bits, which
	// Redis does not hold, names no task.
	twin := uuid.MustParse(done.ID)
	twin[6] = 0x40 | twin[6]&0x0f
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		if rec := serve(s.app, httptest.NewRequest(method, "/v1/tasks/"+twin.String(), nil)); rec.Code != http.StatusNotFound {
			t.Fatalf("%s of %s, a version 4 twin of task %s = %d %s, want 404", method, twin, done.ID, rec.Code, rec.Body)
		}
	}
	unknown := uuid.Must(uuid.NewV7())
	// The key comparison can fail: a valid request does write.
	before := s.keys(t)
	s.submit(t, `{"name":"echo","queue":"parked"}`)
	if after := s.keys(t); slices.Equal(before, after) {
		t.Fatalf("keys unchanged by a valid POST (%q): the comparison would prove nothing", after)
	}

	// Cases run one at a time: each compares the whole key set.
	for _, tt := range badInputList {
		t.Run(tt.name, func(t *testing.T) {
			h := s.app
			if tt.small {
				h = small
			}
			before := s.keys(t)
			rec := serve(h, tt.request(done.ID, unknown))
			msg := errorOf(t, rec, tt.want)
			if !strings.Contains(msg, tt.wantInError) {
				t.Errorf("error = %q, want it to contain %q", msg, tt.wantInError)
			}
			s.checkKeysUnchanged(t, before)
		})
	}
}

func (tt badInput) request(doneID string, unknown uuid.UUID) *http.Request {
	method, target, ct := tt.method, tt.target, tt.contentType
	if method == "" {
		method = http.MethodPost
	}
	if target == "" {
		target = "/v1/tasks"
	}
	target = strings.NewReplacer("{id}", doneID, "{unknown}", unknown.String()).Replace(target)
	switch ct {
	case "":
		ct = "application/json"
	case "none":
		ct = ""
	}
	var body io.Reader
	switch {
	case tt.chunked:
		body = io.MultiReader(strings.NewReader(tt.body)) // hides the length
	case tt.body != "" || method == http.MethodPost:
		body = strings.NewReader(tt.body)
	}
	req := httptest.NewRequest(method, target, body)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	return req
}
