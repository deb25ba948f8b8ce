package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runq/runq/cmd/internal/proctest"
	"github.com/runq/runq/results"
)

// metricsLine is the log line of a worker's metrics server.
var metricsLine = regexp.MustCompile(`msg="worker metrics listening" url=(http://\S+)/metrics`)

// TestWorkerMetrics runs `runq serve` and `runq worker --metrics-addr`:
// the worker serves /metrics with the attempts it ran, /healthz and
// /readyz, and the API's /metrics counts the submit by its route.
func TestWorkerMetrics(t *testing.T) {
	t.Parallel()
	bin := runqBin.Path(t)
	api := proctest.Start(t, bin, "serve", "--addr", "127.0.0.1:0")
	redisURL := api.WaitFor(t, api.Stderr, proctest.EmbeddedURL, 30*time.Second)[1]
	base := api.WaitFor(t, api.Stdout, proctest.ListenLine, 30*time.Second)[1]
	worker := proctest.Start(t, bin, "worker", "--redis", redisURL, "--metrics-addr", "127.0.0.1:0")
	mbase := worker.WaitFor(t, worker.Stderr, metricsLine, 30*time.Second)[1]
	worker.WaitFor(t, worker.Stderr, regexp.MustCompile(`msg="worker pool started"`), 30*time.Second)

	if rec := proctest.WaitDone(t, base, proctest.Submit(t, base, "echo", 1).ID); rec.Status != results.StatusSucceeded {
		t.Fatalf("echo: %s, want succeeded", rec.Status)
	}
	for path, want := range map[string]string{
		"/metrics": `runq_tasks_succeeded_total{name="echo",queue="default"} 1`,
		"/healthz": `{"status":"ok"}`,
		"/readyz":  `{"status":"ready"}`,
	} {
		if body := get(t, mbase+path); !strings.Contains(body, want) {
			t.Errorf("worker GET %s = %q, want it to contain %s", path, body, want)
		}
	}
	want := `runq_http_requests_total{code="202",method="POST",route="/v1/tasks"} 1`
	if body := get(t, base+"/metrics"); !strings.Contains(body, want) {
		t.Errorf("API GET /metrics lacks %s:\n%s", want, body)
	}
	worker.Signal(t, syscall.SIGTERM)
	if code := worker.ExitCode(t, 20*time.Second); code != 0 {
		t.Errorf("worker exit code after SIGTERM = %d, want 0", code)
	}
	if _, err := http.Get(mbase + "/healthz"); err == nil {
		t.Error("worker metrics server still answers after the worker exited")
	}
}

// get returns the body of a GET of url, failing the test unless it is 200.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := proctest.HTTPClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s, want 200", url, resp.StatusCode, b)
	}
	return string(b)
}
