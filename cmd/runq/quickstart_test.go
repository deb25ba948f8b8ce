package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runq/runq/broker/embedded"
	"github.com/runq/runq/cmd/internal/proctest"
)

// TestQuickstarts runs the README's Go program as a user would: in a new
// module outside this repository that requires runq through a replace
// directive. It registers a typed handler, runs a worker in process and
// submits through Redis (on an embedded Redis here); it must print its
// typed result, in at most 25 lines of main. (The same over HTTP is
// api/client's Example, which go test runs.)
func TestQuickstarts(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs a Go program: not in -short mode")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	redis, err := embedded.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(redis.Close) // after the parallel subtests, unlike a defer

	tests := []struct {
		marker, env, want string
	}{
		{"quickstart-redis", "REDIS_URL=" + redis.URL(), "hello, Ada\n"},
	}
	for _, tt := range tests {
		t.Run(tt.marker, func(t *testing.T) {
			t.Parallel()
			src := codeAfter(t, string(readme), tt.marker)
			if n := mainLines(src); n == 0 || n > 25 {
				t.Errorf("the README's %s main has %d lines, want 1 to 25", tt.marker, n)
			}
			out := goRun(t, src, tt.env)
			if out != tt.want {
				t.Errorf("%s printed %q, want %q", tt.marker, out, tt.want)
			}
		})
	}
}

// codeAfter returns the first ```go block after the comment <!-- marker -->.
func codeAfter(t *testing.T, readme, marker string) string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "<!-- "+marker+" -->")
	if !ok {
		t.Fatalf("README.md has no <!-- %s --> marker", marker)
	}
	m := regexp.MustCompile("(?s)```go\n(.*?)```").FindStringSubmatch(rest)
	if m == nil {
		t.Fatalf("README.md has no ```go block after <!-- %s -->", marker)
	}
	return m[1]
}

// mainLines counts the lines of func main, its braces included.
func mainLines(src string) int {
	_, body, ok := strings.Cut(src, "\nfunc main() {\n")
	if !ok {
		return 0
	}
	body, _, ok = strings.Cut(body, "\n}\n")
	if !ok {
		return 0
	}
	return strings.Count(body, "\n") + 3
}

// goRun writes src as the main.go of a new module that requires runq from
// this checkout, runs it with env added, and returns its stdout.
func goRun(t *testing.T, src, env string) string {
	t.Helper()
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module example.com/quickstart\n\ngo 1.26\n\nrequire github.com/runq/runq v0.0.0\n\n" +
		"replace github.com/runq/runq => " + repo + "\n"
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"go.mod": []byte(gomod), "go.sum": sum, "main.go": []byte(src)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The module cache holds what runq builds with, so nothing is fetched:
	// -mod=mod fills in the requirements from runq's go.mod. (go mod tidy
	// would also want the test dependencies of runq's dependencies, which
	// a fresh machine's cache does not hold.)
	goEnv := append(proctest.CleanEnv(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	run := exec.CommandContext(ctx, "go", "run", ".")
	run.Dir, run.Env = dir, append(goEnv, env)
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("go run: %v\nstdout: %s\nstderr: %s", err, &stdout, &stderr)
	}
	return stdout.String()
}
