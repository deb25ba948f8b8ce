package api_test

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/labstack/echo/v4"

	"github.com/runq/runq/api"
	"github.com/runq/runq/api/metrics"
)

// loadOpenAPI reads api/openapi.json once, checks it is a valid OpenAPI
// document (kin-openapi validates a 3.1 document's schemas as JSON Schema
// 2020-12) and routes requests to its operations.
var loadOpenAPI = sync.OnceValues(func() (routers.Router, error) {
	data, err := os.ReadFile("openapi.json")
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, err
	}
	return legacy.NewRouter(doc) // it validates doc first
})

// openAPIDoc returns the document and its router, failing t when it does
// not load.
func openAPIDoc(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	router, err := loadOpenAPI()
	if err != nil {
		t.Fatalf("loading api/openapi.json: %v", err)
	}
	// Any operation's route leads back to the document.
	route, _, err := router.FindRoute(httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if err != nil {
		t.Fatalf("api/openapi.json has no GET /healthz: %v", err)
	}
	return route.Spec, router
}

// validated returns h with each answer checked against api/openapi.json:
// the request's path and method must be an operation of the document, the
// answer's status one of the operation's, and its headers and JSON body
// must fit their schemas; a request that h accepted (2xx) must fit the
// document too. t fails otherwise. Answers are buffered, so h cannot park
// a long poll (it waits instead) or stream.
func validated(t testing.TB, h http.Handler) http.Handler {
	_, router := openAPIDoc(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatalf("reading the request body: %v", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := checkExchange(router, r, rec); err != nil {
			t.Errorf("%s %s = %d %.300s: against api/openapi.json: %v", r.Method, r.URL, rec.Code, rec.Body, err)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// checkExchange reports how r, when it was accepted, and rec, the answer
// to it, differ from the document.
func checkExchange(router routers.Router, r *http.Request, rec *httptest.ResponseRecorder) error {
	route, params, err := router.FindRoute(r)
	if err != nil {
		return err
	}
	if route.Operation.Responses.Status(rec.Code) == nil {
		return errStatus(rec.Code) // ValidateResponse skips HEAD requests
	}
	req := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if rec.Code < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), req); err != nil {
			return err
		}
	}
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: req,
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	})
}

type errStatus int

func (e errStatus) Error() string { return "status " + strconv.Itoa(int(e)) + " is not documented" }

// TestOpenAPIServed: GET /openapi.json answers the document in the repo,
// with no token even when one is set.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	want, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	app := validated(t, api.New(api.Config{APIToken: "secret"}, nil, nil, nil))
	rec := serve(app, newRequest(http.MethodGet, "/openapi.json", "", ""))
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), want) {
		t.Errorf("GET /openapi.json = %d %.80s..., want 200 and api/openapi.json", rec.Code, rec.Body)
	}
	checkJSONType(t, rec)
}

// echoParam matches a path parameter of an echo route, ":id".
var echoParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// TestOpenAPICoversRoutes: the document names each route echo registers,
// with its method, and nothing else.
func TestOpenAPICoversRoutes(t *testing.T) {
	t.Parallel()
	doc, _ := openAPIDoc(t)
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	var registered []string
	// With metrics, so that GET /metrics is registered as it is by runq.
	cfg := api.Config{APIToken: "secret", Metrics: metrics.NewAPI(metrics.NewRegistry(nil), nil)}
	for _, r := range api.New(cfg, nil, nil, nil).Routes() {
		if r.Method != echo.RouteNotFound { // echo's own, for a group's middleware
			path := echoParam.ReplaceAllString(r.Path, "{$1}")
			path = strings.Replace(path, "/*", "/{path}", 1) // echo's wildcard: the rest of the path
			registered = append(registered, r.Method+" "+path)
		}
	}
	for _, op := range missing(registered, documented) {
		t.Errorf("api.New registers %s, which api/openapi.json does not document", op)
	}
	for _, op := range missing(documented, registered) {
		t.Errorf("api/openapi.json documents %s, which api.New does not register", op)
	}
}

// missing returns the sorted elements of a that are not in b.
func missing(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIErrorCodes: the document's enum of Error.code is the set of
// code* constants of errors.go.
func TestOpenAPIErrorCodes(t *testing.T) {
	t.Parallel()
	doc, _ := openAPIDoc(t)
	var documented []string
	for _, v := range doc.Components.Schemas["Error"].Value.Properties["code"].Value.Enum {
		documented = append(documented, v.(string))
	}
	declared := errorCodes(t)
	for _, c := range missing(declared, documented) {
		t.Errorf("errors.go declares code %q, which api/openapi.json does not list", c)
	}
	for _, c := range missing(documented, declared) {
		t.Errorf("api/openapi.json lists code %q, which errors.go does not declare", c)
	}
}

// errorCodes returns the values of the constants named code* in errors.go.
func errorCodes(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok || len(spec.Values) != len(spec.Names) {
			return true
		}
		for i, name := range spec.Names {
			lit, ok := spec.Values[i].(*ast.BasicLit)
			if strings.HasPrefix(name.Name, "code") && ok && lit.Kind == token.STRING {
				v, _ := strconv.Unquote(lit.Value)
				codes = append(codes, v)
			}
		}
		return true
	})
	return codes
}

// goodRecord is a record as the API writes it: every case of
// TestValidatorCatches changes one thing in it.
const goodRecord = `{"id":"01a239c4-ef73-730f-9f4a-cc85c900fb90","name":"echo","queue":"default","status":"queued",` +
	`"payload":null,"attempts":0,"max_retries":3,"timeout":"30m0s","result_ttl":"24h0m0s","created_at":"2026-12-03T02:38:57.395Z"}`

// TestValidatorCatches: the validation of answers is not vacuous. The
// document's schemas are JSON Schema 2020-12 (a null payload fits), and
// answers that stray from them fail.
func TestValidatorCatches(t *testing.T) {
	t.Parallel()
	_, router := openAPIDoc(t)
	const task = "/v1/tasks/01a239c4-ef73-730f-9f4a-cc85c900fb90"
	tests := []struct {
		method, target string
		status         int
		body           string
		ok             bool
	}{
		{"GET", task, 200, goodRecord, true},
		{"GET", task, 200, strings.Replace(goodRecord, `"payload":null`, `"payload":{"a":[1,null]}`, 1), true},
		{"GET", task, 200, strings.Replace(goodRecord, `"queued"`, `"bogus"`, 1), false},
		{"GET", task, 200, strings.Replace(goodRecord, `"payload":null,`, ``, 1), false},
		{"GET", task, 200, strings.Replace(goodRecord, `"attempts":0`, `"attempts":0,"extra":1`, 1), false},
		{"GET", task, 200, strings.Replace(goodRecord, `"30m0s"`, `"30"`, 1), false},
		{"GET", task, 200, strings.Replace(goodRecord, `"2026-12-03T02:38:57.395Z"`, `"yesterday"`, 1), false},
		{"GET", task, 200, strings.Replace(goodRecord, `"01a239c4`, `"01A239C4`, 1), false},
		{"GET", task, 404, `{"error":"task not found","code":"not_found"}`, true},
		{"GET", task, 404, `{"error":"task not found","code":"nope"}`, false},
		{"GET", task, 404, `{"error":"","code":"not_found"}`, false},
		{"GET", task, 418, `{"error":"teapot","code":"invalid"}`, false},
		{"HEAD", task, 418, ``, false},
		{"GET", "/healthz", 200, `{"status":"ok","extra":1}`, false},
		{"GET", "/nowhere", 200, `{}`, false},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", "application/json")
		rec.Header().Set("X-Request-Id", "r1")
		rec.WriteHeader(tt.status)
		rec.WriteString(tt.body)
		err := checkExchange(router, httptest.NewRequest(tt.method, tt.target, nil), rec)
		if (err == nil) != tt.ok {
			t.Errorf("%s %s answered %d %s: validation error %v, want ok %t", tt.method, tt.target, tt.status, tt.body, err, tt.ok)
		}
	}
}

// TestValidatorChecksAcceptedRequests: a request the API accepted must fit
// the document too, and so must the headers of its answer.
func TestValidatorChecksAcceptedRequests(t *testing.T) {
	t.Parallel()
	_, router := openAPIDoc(t)
	const location = "/v1/tasks/01a239c4-ef73-730f-9f4a-cc85c900fb90"
	tests := []struct {
		body, location string
		ok             bool
	}{
		{`{"name":"echo"}`, location, true},
		{`{"name":"echo","payload":null,"queue":null,"max_retries":null,"timeout":null,"result_ttl":null}`, location, true},
		{`{"name":"echo","payload":[1],"queue":"","max_retries":0,"timeout":"1m30s","result_ttl":"1h"}`, location, true},
		{`{"name":"echo"}`, "", false},
		{`{"name":"echo","bogus":1}`, location, false},
		{`{"name":"echo","max_retries":1001}`, location, false},
		{`{"name":"echo","timeout":"soon"}`, location, false},
		{`{"name":"echo","queue":"a b"}`, location, false},
		{`{"payload":1}`, location, false},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", "application/json")
		rec.Header().Set("X-Request-Id", "r1")
		if tt.location != "" {
			rec.Header().Set("Location", tt.location)
		}
		rec.WriteHeader(http.StatusAccepted)
		rec.WriteString(goodRecord)
		err := checkExchange(router, newRequest(http.MethodPost, "/v1/tasks", "application/json", tt.body), rec)
		if (err == nil) != tt.ok {
			t.Errorf("POST /v1/tasks %s answered 202 with Location %q: validation error %v, want ok %t", tt.body, tt.location, err, tt.ok)
		}
	}
}
