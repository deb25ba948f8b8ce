package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runq/runq/cmd/internal/cli"
	"github.com/runq/runq/cmd/internal/proctest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks/builtin"
)

// TestAll runs `runq` (the API and a worker pool in one process, on an
// embedded Redis) and submits the built-in tasks over HTTP.
func TestAll(t *testing.T) {
	t.Parallel()
	p, base := proctest.StartAPI(t, runqBin.Path(t), "--addr", "127.0.0.1:0")

	tests := []struct {
		name, task string
		payload    any
		want       any    // the result, decoded into a value of its type
		wantErr    string // for a failed task: part of its error
	}{
		{name: "echo", task: "echo", payload: map[string]any{"hello": "world", "n": []any{1.0, 2.0}},
			want: map[string]any{"hello": "world", "n": []any{1.0, 2.0}}},
		{name: "echo null", task: "echo", payload: nil, want: any(nil)},
		{name: "sleep", task: "sleep", payload: builtin.SleepIn{MS: 10}, want: builtin.SleepOut{SleptMS: 10}},
		{name: "sleep out of range", task: "sleep", payload: builtin.SleepIn{MS: -1}, wantErr: "ms must be 0 to"},
		{name: "fail", task: "fail", payload: builtin.FailIn{Message: "boom"}, wantErr: "boom"},
		{name: "fail default message", task: "fail", payload: struct{}{}, wantErr: "failed on purpose"},
	}
	t.Run("tasks", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				proctest.CheckOutcome(t, proctest.WaitDone(t, base, proctest.Submit(t, base, tt.task, tt.payload).ID), tt.want, tt.wantErr)
			})
		}
		t.Run("unknown name", func(t *testing.T) {
			t.Parallel()
			resp, err := proctest.HTTPClient.Post(base+"/v1/tasks", "application/json", strings.NewReader(`{"name":"nope"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("POST /v1/tasks {name: nope}: status %d, want %d", resp.StatusCode, http.StatusUnprocessableEntity)
			}
		})
	})

	p.Signal(t, syscall.SIGTERM)
	if code := p.ExitCode(t, 20*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
}

// TestShutdownFinishesRunningTask sends SIGTERM while a 2s sleep task runs:
// the process must let it finish within the grace period, then exit 0.
func TestShutdownFinishesRunningTask(t *testing.T) {
	t.Parallel()
	p, base := proctest.StartAPI(t, runqBin.Path(t), "--addr", "127.0.0.1:0", "--grace", "10s")

	submitted := time.Now()
	rec := proctest.Submit(t, base, "sleep", builtin.SleepIn{MS: 2000})
	proctest.WaitStatus(t, base, rec.ID, results.StatusRunning, 10*time.Second)
	p.Signal(t, syscall.SIGTERM)
	if code := p.ExitCode(t, 20*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	// The handler's context is not the process's: had SIGTERM cut the task
	// short, the process would have exited well before the sleep ended.
	if ran := p.ExitedAt().Sub(submitted); ran < 2*time.Second {
		t.Errorf("process exited %s after the 2s task was submitted, want at least 2s", ran)
	}
	stderr := p.Stderr.String()
	if want := `msg="worker stopping: waiting for running tasks" running=1`; !strings.Contains(stderr, want) {
		t.Errorf("stderr does not contain %q", want)
	}
	for _, bad := range []string{"grace period over", "handed back", "level=ERROR"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("stderr contains %q", bad)
		}
	}
}

// TestServeAndWorker runs the API and a worker as two processes sharing the
// embedded Redis of the first, as the usage text suggests.
func TestServeAndWorker(t *testing.T) {
	t.Parallel()
	bin := runqBin.Path(t)
	api := proctest.Start(t, bin, "serve", "--addr", "127.0.0.1:0")
	redisURL := api.WaitFor(t, api.Stderr, proctest.EmbeddedURL, 30*time.Second)[1]
	base := api.WaitFor(t, api.Stdout, proctest.ListenLine, 30*time.Second)[1]

	// With no worker yet, no process has registered a task name.
	resp, err := proctest.HTTPClient.Post(base+"/v1/tasks", "application/json", strings.NewReader(`{"name":"echo"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("POST echo with no worker: status %d, want %d", resp.StatusCode, http.StatusUnprocessableEntity)
	}

	worker := proctest.Start(t, bin, "worker", "--redis", redisURL, "--grace", "10s")
	worker.WaitFor(t, worker.Stderr, regexp.MustCompile(`msg="worker pool started"`), 30*time.Second)

	rec := proctest.WaitDone(t, base, proctest.Submit(t, base, "echo", map[string]string{"via": "worker"}).ID)
	if got := proctest.DecodeAs(t, rec.Result, map[string]any{}); rec.Status != results.StatusSucceeded ||
		!reflect.DeepEqual(got, map[string]any{"via": "worker"}) {
		t.Errorf("echo through the worker: status %s, result %s, error %q; want %s, {\"via\":\"worker\"}",
			rec.Status, rec.Result, rec.Error, results.StatusSucceeded)
	}

	// SIGTERM to the worker mid-task: it finishes the task, then exits.
	id := proctest.Submit(t, base, "sleep", builtin.SleepIn{MS: 1500}).ID
	proctest.WaitStatus(t, base, id, results.StatusRunning, 10*time.Second)
	worker.Signal(t, syscall.SIGTERM)
	if code := worker.ExitCode(t, 20*time.Second); code != 0 {
		t.Errorf("worker exit code after SIGTERM = %d, want 0", code)
	}
	rec = proctest.Get(t, base, id)
	want := builtin.SleepOut{SleptMS: 1500}
	if got := proctest.DecodeAs(t, rec.Result, want); rec.Status != results.StatusSucceeded || rec.Attempts != 1 || got != want {
		t.Errorf("sleep task after worker shutdown: status, attempts, result = %s, %d, %s, want %s, 1, %+v",
			rec.Status, rec.Attempts, rec.Result, results.StatusSucceeded, want)
	}

	api.Signal(t, syscall.SIGTERM)
	if code := api.ExitCode(t, 20*time.Second); code != 0 {
		t.Errorf("serve exit code after SIGTERM = %d, want 0", code)
	}
}

// TestUsage runs commands that return before serving anything.
func TestUsage(t *testing.T) {
	t.Parallel()
	bin := runqBin.Path(t)
	tests := []struct {
		name       string
		args       []string
		env        []string
		wantCode   int
		wantStdout string // exact, when not empty
		wantStderr string // contained
		wantHelp   string // contained in stdout
		plain      bool   // stderr is one line: no log record, no usage text
	}{
		{name: "unknown command", args: []string{"bogus"}, wantCode: 2, wantStderr: `unknown command "bogus"`, plain: true},
		{name: "bad flag value", args: []string{"--concurrency", "abc"}, wantCode: 2,
			wantStderr: `runq: --concurrency "abc": not a whole number`, plain: true},
		{name: "flag out of range", args: []string{"--concurrency", "0"}, wantCode: 2,
			wantStderr: "--concurrency must be 1 to 10000"},
		{name: "unknown flag", args: []string{"worker", "--nope"}, wantCode: 2,
			wantStderr: "runq: unknown flag --nope (see worker --help)", plain: true},
		{name: "flag of another command", args: []string{"worker", "-addr", ":9000"}, wantCode: 2,
			wantStderr: "runq: --addr is not a flag of worker: it is a flag of all and serve", plain: true},
		{name: "extra argument", args: []string{"serve", "extra"}, wantCode: 2,
			wantStderr: `unexpected argument "extra"`},
		{name: "bad queue", args: []string{"--queues", "a b"}, wantCode: 2, wantStderr: "--queues"},
		{name: "bad metrics address", args: []string{"worker", "--metrics-addr", "9091"}, wantCode: 2,
			wantStderr: `runq: --metrics-addr "9091": want HOST:PORT, such as 127.0.0.1:9091 (env RUNQ_METRICS_ADDR)`, plain: true},
		{name: "bad environment", env: []string{"RUNQ_CONCURRENCY=abc"}, wantCode: 2,
			wantStderr: `RUNQ_CONCURRENCY="abc"`, plain: true},
		{name: "version", args: []string{"version"}, wantCode: 0, wantStdout: "runq " + cli.Version + "\n"},
		{name: "help flag", args: []string{"-h"}, wantCode: 0, wantHelp: "Usage:"},
		{name: "help command", args: []string{"help"}, wantCode: 0, wantHelp: "Usage:"},
		{name: "worker help", args: []string{"worker", "-h"}, wantCode: 0, wantHelp: "--concurrency N"},
		{name: "help of a command", args: []string{"help", "serve"}, wantCode: 0, wantHelp: "runq serve: run only the HTTP API"},
		{name: "bench help", args: []string{"bench", "--help"}, wantCode: 0, wantHelp: "--tasks"},
		{name: "help of no command", args: []string{"help", "nope"}, wantCode: 2, wantStderr: "help nope: no such command", plain: true},
		{name: "version with argument", args: []string{"version", "x"}, wantCode: 2, wantStderr: "version takes no arguments", plain: true},
		{name: "malformed redis url", args: []string{"worker", "--redis", "foo://x"}, wantCode: 2, wantStderr: "invalid redis url", plain: true},
		{name: "redis unreachable", args: []string{"worker", "--redis", "redis://127.0.0.1:1"}, wantCode: 1,
			wantStderr: "connect to 127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tt.args...)
			cmd.Env = append(proctest.CleanEnv(), tt.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("runq %q: still running after 30s", tt.args)
			}
			if exitErr := (*exec.ExitError)(nil); err != nil && !errors.As(err, &exitErr) {
				t.Fatalf("runq %q: %v", tt.args, err)
			}
			if code := cmd.ProcessState.ExitCode(); code != tt.wantCode {
				t.Errorf("runq %q %q: exit code %d, want %d\nstderr: %s", tt.env, tt.args, code, tt.wantCode, &stderr)
			}
			if tt.wantStdout != "" && stdout.String() != tt.wantStdout {
				t.Errorf("runq %q: stdout %q, want %q", tt.args, &stdout, tt.wantStdout)
			}
			if !strings.Contains(stdout.String(), tt.wantHelp) {
				t.Errorf("runq %q: stdout %q, want it to contain %q", tt.args, &stdout, tt.wantHelp)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("runq %q %q: stderr %q, want it to contain %q", tt.env, tt.args, &stderr, tt.wantStderr)
			}
			if lines := strings.Count(stderr.String(), "\n"); tt.plain &&
				(lines != 1 || strings.Contains(stderr.String(), "level=") || strings.Contains(stderr.String(), "Usage")) {
				t.Errorf("runq %q %q: stderr %q, want one plain line", tt.env, tt.args, &stderr)
			}
		})
	}
}

// runqBin is the runq command, built once for every test of this package.
var runqBin = &proctest.Binary{Pkg: "github.com/runq/runq/cmd/runq"}

func TestMain(m *testing.M) {
	code := m.Run()
	runqBin.Remove()
	os.Exit(code)
}
