// Package dashboard owns runq's web dashboard: the page served at "/" and
// the scripts and styles it loads, embedded in the binary so that it works
// offline and needs nothing deployed beside runq. It holds no data and
// checks no token: the page reads everything through the /v1 API, sending
// the token the user typed, so the API's own check guards the data.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
)

//go:embed assets
var embedded embed.FS

// assets is the tree under assets/, as served under /ui/{version}/.
var assets = mustSub(embedded, "assets")

// version names this build's assets: a hash of all of them. Asset URLs
// carry it, so a browser may keep an asset for a year and still loads the
// new ones the moment runq is upgraded.
var version = hashTree(assets)

// versionMark in index.html is replaced by the asset path of this build.
const versionMark = "{{ui}}"

// index is index.html with its asset URLs pointing at this build's version.
var index = bytes.ReplaceAll(mustRead(assets, "index.html"), []byte(versionMark), []byte("/ui/"+version))

// Register serves the dashboard on e: the page at GET / and its assets at
// GET /ui/{version}/{file}. HEAD is answered wherever GET is.
func Register(e *echo.Echo) {
	methods := []string{http.MethodGet, http.MethodHead}
	e.Match(methods, "/", serveIndex)
	e.Match(methods, "/ui/:version/*", serveAsset)
}

// securityHeaders forbid what the dashboard never does: loading anything
// from elsewhere, inline scripts, being framed (clickjacking), and
// sniffing types. With them an injected string cannot become a script.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "+
		"img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// serveIndex answers the page itself, revalidated on every load (it names
// the current assets' version).
func serveIndex(c echo.Context) error {
	h := c.Response().Header()
	securityHeaders(h)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", `"`+version+`"`)
	if match(c.Request(), version) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, "text/html; charset=utf-8", index)
}

// serveAsset answers one embedded file. A request for another version (a
// page loaded before an upgrade) gets the current file, not to be kept.
func serveAsset(c echo.Context) error {
	name := path.Clean(c.Param("*"))
	b, err := fs.ReadFile(assets, name)
	if err != nil || name == "index.html" || strings.HasPrefix(name, ".") {
		return echo.ErrNotFound
	}
	h := c.Response().Header()
	securityHeaders(h)
	h.Set("ETag", `"`+version+`"`)
	if c.Param("version") == version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if match(c.Request(), version) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, contentType(name), b)
}

// match reports whether r already holds the version named etag.
func match(r *http.Request, etag string) bool {
	return strings.Contains(r.Header.Get("If-None-Match"), `"`+etag+`"`)
}

// contentTypes are those of the files under assets/.
var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
}

func contentType(name string) string {
	if t, ok := contentTypes[path.Ext(name)]; ok {
		return t
	}
	return "application/octet-stream"
}

// hashTree returns the first 12 hex digits of a SHA-256 over every file's
// name and contents.
func hashTree(fsys fs.FS) string {
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		h.Write([]byte(p + "\x00"))
		h.Write(b)
		return err
	})
	if err != nil {
		panic("dashboard: hashing assets: " + err.Error()) // embedded: cannot happen
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic("dashboard: " + err.Error()) // embedded: cannot happen
	}
	return sub
}

func mustRead(fsys fs.FS, name string) []byte {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		panic("dashboard: " + err.Error()) // embedded: cannot happen
	}
	return b
}
