package dashboard_test

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/runq/runq/api/internal/dashboard"
)

// setup returns an echo app serving only the dashboard.
func setup(t *testing.T) *echo.Echo {
	t.Helper()
	e := echo.New()
	dashboard.Register(e)
	return e
}

func get(e *echo.Echo, target string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// assetURL matches the asset links of the page: /ui/{version}/{file}.
var assetURL = regexp.MustCompile(`"(/ui/([0-9a-f]{12})/[a-z.]+)"`)

// TestIndex checks the page: HTML, revalidated on each load, under a
// policy that allows scripts from runq only, and linking its assets by
// this build's version.
func TestIndex(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rec := get(e, "/")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", rec.Code)
	}
	h := rec.Header()
	for k, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "no-cache",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("GET / %s = %q, want %q", k, got, want)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q, want scripts from self only and no framing", csp)
	}
	links := assetURL.FindAllStringSubmatch(rec.Body.String(), -1)
	if len(links) < 3 || strings.Contains(rec.Body.String(), "{{ui}}") {
		t.Fatalf("page links %q, want its icon, style and script under /ui/{version}/", links)
	}
	if again := get(e, "/", "If-None-Match", h.Get("ETag")); again.Code != http.StatusNotModified {
		t.Errorf("GET / with If-None-Match %s = %d, want 304", h.Get("ETag"), again.Code)
	}
	for _, l := range links {
		rec := get(e, l[1])
		if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s = %d, Cache-Control %q; want 200, immutable", l[1], rec.Code, rec.Header().Get("Cache-Control"))
		}
	}
}

// TestAssets checks each kind of asset's type and caching, and that only
// the embedded files are served.
func TestAssets(t *testing.T) {
	t.Parallel()
	e := setup(t)
	v := assetURL.FindStringSubmatch(get(e, "/").Body.String())[2]
	tests := []struct {
		target             string
		status             int
		contentType, cache string
	}{
		{"/ui/" + v + "/app.js", 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"},
		{"/ui/" + v + "/app.css", 200, "text/css; charset=utf-8", "public, max-age=31536000, immutable"},
		{"/ui/" + v + "/favicon.svg", 200, "image/svg+xml", "public, max-age=31536000, immutable"},
		// A page from before an upgrade gets today's file, not to be kept.
		{"/ui/000000000000/app.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"/ui/" + v + "/nope.js", 404, "", ""},
		{"/ui/" + v + "/../dashboard.go", 404, "", ""},
		{"/ui/" + v + "/index.html", 404, "", ""},
	}
	for _, tt := range tests {
		rec := get(e, tt.target)
		if rec.Code != tt.status {
			t.Errorf("GET %s = %d, want %d", tt.target, rec.Code, tt.status)
			continue
		}
		if rec.Code != http.StatusOK {
			continue
		}
		if got := rec.Header().Get("Content-Type"); got != tt.contentType {
			t.Errorf("GET %s Content-Type = %q, want %q", tt.target, got, tt.contentType)
		}
		if got := rec.Header().Get("Cache-Control"); got != tt.cache {
			t.Errorf("GET %s Cache-Control = %q, want %q", tt.target, got, tt.cache)
		}
	}
}

// unsafeDOM are the ways a script turns a string into markup. The
// dashboard builds its DOM from elements and text nodes only, so that no
// value from the API can become markup or script.
var unsafeDOM = []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"}

func TestScriptsBuildNoMarkupFromStrings(t *testing.T) {
	t.Parallel()
	files, err := fs.Glob(os.DirFS("assets"), "*.js")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts under assets/: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile("assets/" + f)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range unsafeDOM {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s uses %s: build elements with h() and text nodes instead", f, bad)
			}
		}
	}
}
