package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browserPath is Debian's chromium, which .ci/run installs when missing.
const browserPath = "/usr/bin/chromium"

// browserTimeout bounds the whole browser session; waitTimeout one wait
// for the page to show something.
const (
	browserTimeout = 50 * time.Second
	waitTimeout    = 10 * time.Second
)

// requireBrowser skips t when chromium is missing, unless the browser is
// required (CI=true or RUNQ_REQUIRE_BROWSER=1): then it fails t.
func requireBrowser(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(browserPath); err == nil {
		return
	}
	msg := fmt.Sprintf("no browser at %s: the dashboard is tested in Debian's chromium (apt-get install chromium)", browserPath)
	if os.Getenv("CI") == "true" || os.Getenv("RUNQ_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// browser is a headless chromium tab, and what its console reported.
type browser struct {
	ctx context.Context

	mu     sync.Mutex
	errors []string // uncaught exceptions and error messages
}

// newBrowser starts chromium with a fresh profile, stopped at cleanup.
// The flags that stop its background traffic are needed on a closed
// network, where those connections fail and slow the browser down.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	profile, err := os.MkdirTemp("", "runq-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browserPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.UserDataDir(profile), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, cancelTab := chromedp.NewContext(alloc)
	b := &browser{ctx: tab}
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for chromium to exit
		cancel()
		removeProfile(t, profile)
	})
	b.watchConsole()
	return b
}

// removeProfile deletes chromium's profile, trying again for a moment:
// its helper processes may still write there just after it exits.
func removeProfile(t *testing.T, dir string) {
	var err error
	for range 20 {
		if err = os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("removing chromium's profile %s: %v", dir, err)
}

// watchConsole keeps the page's uncaught exceptions and console errors.
// Failed requests (the network source) are left out: a 401 before the
// login is part of the test.
func (b *browser) watchConsole() {
	msgs := chromedp.Console(b.ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() || (m.Type == chromedp.ConsoleError && m.Source != "network") {
				b.mu.Lock()
				b.errors = append(b.errors, m.String())
				b.mu.Unlock()
			}
		}
	}()
}

// consoleErrors returns what watchConsole kept so far.
func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// do runs steps, failing t with what was being done.
func (b *browser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		t.Fatalf("%s: %v (console errors: %q)", what, err, b.consoleErrors())
	}
}

// until waits for the JavaScript expression to be truthy and returns its
// value, failing t after waitTimeout.
func until[T any](t *testing.T, b *browser, what, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Poll[T](expr, chromedp.WithPollingTimeout(waitTimeout)))
	if err != nil {
		t.Fatalf("waiting for %s (%s): %v (console errors: %q)", what, expr, err, b.consoleErrors())
	}
	return v
}

// eval returns the value of a JavaScript expression.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// screenshotDir is $RUNQ_SCREENSHOTS, or a directory of the test's own:
// screenshots are never kept in git.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("RUNQ_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot directory: %v", err)
	}
	return dir
}

// screenshot saves the whole page as dir/name.png, after checking that it
// shows something: a blank or failed render has a color or two, a page
// with text, badges and borders has many.
func (b *browser) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot %s is not a PNG: %v", name, err)
	}
	if n := colors(img, 64); n < 16 {
		t.Errorf("screenshot %s has %d distinct colors, want at least 16: is the page blank?", name, n)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatalf("saving screenshot: %v", err)
	}
	t.Logf("screenshot: %s (%dx%d)", path, img.Bounds().Dx(), img.Bounds().Dy())
}

// colors counts the distinct colors of img, stopping at limit.
func colors(img image.Image, limit int) int {
	seen := make(map[[4]uint32]bool)
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c0, c1, c2, c3 := img.At(x, y).RGBA()
			seen[[4]uint32{c0, c1, c2, c3}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}

// jsString quotes s as a JavaScript string literal (JSON's is one).
func jsString(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b)
}
