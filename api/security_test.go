package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/runq/runq/api"
	"github.com/runq/runq/broker/redistest"
)

func TestBearerToken(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		app := s.api(api.Config{APIToken: "s3cret"})
		before := s.keys(t)
		tests := []struct {
			name, auth string
		}{
			{"no header", ""},
			{"wrong token", "Bearer nope"},
			{"token prefix", "Bearer s3cre"},
			{"token suffix", "Bearer s3cretX"},
			{"no scheme", "s3cret"},
			{"basic scheme", "Basic s3cret"},
			{"lower-case scheme and extra space", "bearer  s3cret"},
		}
		for _, tt := range tests {
			for _, req := range []*http.Request{
				newRequest(http.MethodPost, "/v1/tasks", "application/json", `{"name":"echo"}`),
				newRequest(http.MethodGet, "/v1/tasks/0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77", "", ""),
				newRequest(http.MethodDelete, "/v1/tasks/0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77", "", ""),
			} {
				if tt.auth != "" {
					req.Header.Set("Authorization", tt.auth)
				}
				rec := serve(app, req)
				if msg := errorOf(t, rec, http.StatusUnauthorized); !strings.Contains(msg, "token") {
					t.Errorf("%s %s with %s: error %q, want it to mention the token", req.Method, req.URL, tt.name, msg)
				}
				if got := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("%s %s with %s: WWW-Authenticate = %q, want Bearer", req.Method, req.URL, tt.name, got)
				}
			}
		}
		s.checkKeysUnchanged(t, before)

		req := newRequest(http.MethodPost, "/v1/tasks", "application/json", `{"name":"echo","payload":7}`)
		req.Header.Set("Authorization", "Bearer s3cret")
		if rec := serve(app, req); rec.Code != http.StatusAccepted {
			t.Fatalf("POST with the token: %d %s, want 202", rec.Code, rec.Body)
		}
		for _, path := range []string{"/healthz", "/readyz"} {
			if rec := serve(app, newRequest(http.MethodGet, path, "", "")); rec.Code != http.StatusOK {
				t.Errorf("GET %s without a token: %d, want 200 (open)", path, rec.Code)
			}
		}
	})
}

func TestStrictFieldNames(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		before := s.keys(t)
		for body, want := range map[string]string{
			`{"NAME":"echo"}`:                              `unknown field "NAME"`,
			`{"name":"echo","Max_Retries":1}`:              `unknown field "Max_Retries"`,
			`{"name":"echo","name":"fail"}`:                `"name" is given twice`,
			`{"name":"echo","timeout":"abc"}`:              `field "timeout"`,
			`{"name":"echo","result_ttl":5}`:               `field "result_ttl"`,
			`{"name":"echo","max_retries":1.5}`:            `field "max_retries"`,
			`{"name":null}`:                                `"name" is required`,
			"{\"name\":\"echo\",\"payload\":\"\xff\xfe\"}": `UTF-8`,
		} {
			rec := post(s.app, body)
			if msg := errorOf(t, rec, http.StatusBadRequest); !strings.Contains(msg, want) {
				t.Errorf("POST %s: error %q, want it to contain %q", body, msg, want)
			}
		}
		s.checkKeysUnchanged(t, before)
	})
}

// TestSpoofedForwardedFor checks that the client address is the peer's,
// whatever X-Forwarded-For or X-Real-IP say.
func TestSpoofedForwardedFor(t *testing.T) {
	t.Parallel()
	be := redistest.Mini(t)
	s := setup(t, be)
	e := s.api(api.Config{}).(*echo.Echo)
	e.GET("/test/ip", func(c echo.Context) error { return c.String(http.StatusOK, c.RealIP()) })
	req := newRequest(http.MethodGet, "/test/ip", "", "")
	req.RemoteAddr = "192.0.2.7:5555"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("X-Real-IP", "203.0.113.10")
	if rec := serve(e, req); rec.Body.String() != "192.0.2.7" {
		t.Errorf("RealIP() with spoofed headers = %q, want the peer 192.0.2.7", rec.Body)
	}
}

func TestReadyzReportsDurability(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		rec := serve(s.app, newRequest(http.MethodGet, "/readyz", "", ""))
		var body struct {
			Status, Persistence string
			MaxmemoryPolicy     string `json:"maxmemory_policy"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusOK || body.Status != "ready" {
			t.Fatalf("GET /readyz = %d %s", rec.Code, rec.Body)
		}
		if s.be.Mini != nil {
			if body.Persistence != "unknown" {
				t.Errorf("readyz persistence on miniredis = %q, want unknown", body.Persistence)
			}
			return
		}
		if body.Persistence == "unknown" || body.MaxmemoryPolicy == "unknown" || body.MaxmemoryPolicy == "" {
			t.Errorf("readyz on a real Redis = %+v, want its persistence and maxmemory policy", body)
		}
	})
}
