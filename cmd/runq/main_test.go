package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/runq/runq/cmd/cli"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// TestAll runs `runq` (the API and a worker pool in one process, on an
// embedded Redis) and submits the built-in tasks over HTTP.
func TestAll(t *testing.T) {
	t.Parallel()
	p := start(t, binary(t), "--addr", "127.0.0.1:0")
	base := p.waitFor(t, p.stdout, listenLine, 30*time.Second)[1]

	tests := []struct {
		name, task string
		payload    any
		want       any    // the result, decoded into a value of its type
		wantErr    string // for a failed task: part of its error
	}{
		{name: "echo", task: "echo", payload: map[string]any{"hello": "world", "n": []any{1.0, 2.0}},
			want: map[string]any{"hello": "world", "n": []any{1.0, 2.0}}},
		{name: "echo null", task: "echo", payload: nil, want: any(nil)},
		{name: "sleep", task: "sleep", payload: tasks.SleepArgs{MS: 10}, want: tasks.SleepResult{SleptMS: 10}},
		{name: "sleep out of range", task: "sleep", payload: tasks.SleepArgs{MS: -1}, wantErr: "ms must be 0 to"},
		{name: "fail", task: "fail", payload: tasks.FailArgs{Message: "boom"}, wantErr: "boom"},
		{name: "fail default message", task: "fail", payload: struct{}{}, wantErr: "failed on purpose"},
	}
	t.Run("tasks", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				checkOutcome(t, waitDone(t, base, submit(t, base, tt.task, tt.payload).ID.String()), tt.want, tt.wantErr)
			})
		}
		t.Run("unknown name", func(t *testing.T) {
			t.Parallel()
			resp, err := httpClient.Post(base+"/v1/tasks", "application/json", strings.NewReader(`{"name":"nope"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("POST /v1/tasks {name: nope}: status %d, want %d", resp.StatusCode, http.StatusUnprocessableEntity)
			}
		})
	})

	p.signal(t, syscall.SIGTERM)
	if code := p.exitCode(t, 20*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
}

// TestShutdownFinishesRunningTask sends SIGTERM while a 2s sleep task runs:
// the process must let it finish within the grace period, then exit 0.
func TestShutdownFinishesRunningTask(t *testing.T) {
	t.Parallel()
	p := start(t, binary(t), "--addr", "127.0.0.1:0", "--grace", "10s")
	base := p.waitFor(t, p.stdout, listenLine, 30*time.Second)[1]

	submitted := time.Now()
	rec := submit(t, base, "sleep", tasks.SleepArgs{MS: 2000})
	waitStatus(t, base, rec.ID.String(), results.StatusRunning, 10*time.Second)
	p.signal(t, syscall.SIGTERM)
	if code := p.exitCode(t, 20*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	// The handler's context is not the process's: had SIGTERM cut the task
	// short, the process would have exited well before the sleep ended.
	if ran := p.exitedAt.Sub(submitted); ran < 2*time.Second {
		t.Errorf("process exited %s after the 2s task was submitted, want at least 2s", ran)
	}
	stderr := p.stderr.String()
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
	bin := binary(t)
	api := start(t, bin, "serve", "--addr", "127.0.0.1:0")
	redisURL := api.waitFor(t, api.stderr, embeddedURL, 30*time.Second)[1]
	base := api.waitFor(t, api.stdout, listenLine, 30*time.Second)[1]

	// With no worker yet, no process has registered a task name.
	resp, err := httpClient.Post(base+"/v1/tasks", "application/json", strings.NewReader(`{"name":"echo"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("POST echo with no worker: status %d, want %d", resp.StatusCode, http.StatusUnprocessableEntity)
	}

	worker := start(t, bin, "worker", "--redis", redisURL, "--grace", "10s")
	worker.waitFor(t, worker.stderr, regexp.MustCompile(`msg="worker pool started"`), 30*time.Second)

	rec := waitDone(t, base, submit(t, base, "echo", map[string]string{"via": "worker"}).ID.String())
	if got := decodeAs(t, rec.Result, map[string]any{}); rec.Status != results.StatusSucceeded ||
		!reflect.DeepEqual(got, map[string]any{"via": "worker"}) {
		t.Errorf("echo through the worker: status %s, result %s, error %q; want %s, {\"via\":\"worker\"}",
			rec.Status, rec.Result, rec.Error, results.StatusSucceeded)
	}

	// SIGTERM to the worker mid-task: it finishes the task, then exits.
	id := submit(t, base, "sleep", tasks.SleepArgs{MS: 1500}).ID.String()
	waitStatus(t, base, id, results.StatusRunning, 10*time.Second)
	worker.signal(t, syscall.SIGTERM)
	if code := worker.exitCode(t, 20*time.Second); code != 0 {
		t.Errorf("worker exit code after SIGTERM = %d, want 0", code)
	}
	rec = get(t, base, id)
	want := tasks.SleepResult{SleptMS: 1500}
	if got := decodeAs(t, rec.Result, want); rec.Status != results.StatusSucceeded || rec.Attempts != 1 || got != want {
		t.Errorf("sleep task after worker shutdown: status, attempts, result = %s, %d, %s, want %s, 1, %+v",
			rec.Status, rec.Attempts, rec.Result, results.StatusSucceeded, want)
	}

	api.signal(t, syscall.SIGTERM)
	if code := api.exitCode(t, 20*time.Second); code != 0 {
		t.Errorf("serve exit code after SIGTERM = %d, want 0", code)
	}
}

// TestUsage runs commands that return before serving anything.
func TestUsage(t *testing.T) {
	t.Parallel()
	bin := binary(t)
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
			wantStderr: `invalid value "abc" for flag -concurrency`},
		{name: "flag out of range", args: []string{"--concurrency", "0"}, wantCode: 2,
			wantStderr: "--concurrency must be 1 to 10000"},
		{name: "unknown flag", args: []string{"worker", "--nope"}, wantCode: 2,
			wantStderr: "flag provided but not defined: -nope"},
		{name: "extra argument", args: []string{"serve", "extra"}, wantCode: 2,
			wantStderr: `unexpected argument "extra"`},
		{name: "bad queue", args: []string{"--queues", "a b"}, wantCode: 2, wantStderr: "--queues"},
		{name: "bad environment", env: []string{"RUNQ_CONCURRENCY=abc"}, wantCode: 2,
			wantStderr: `RUNQ_CONCURRENCY="abc"`, plain: true},
		{name: "version", args: []string{"version"}, wantCode: 0, wantStdout: "runq " + cli.Version + "\n"},
		{name: "help flag", args: []string{"-h"}, wantCode: 0, wantHelp: "Usage:"},
		{name: "help command", args: []string{"help"}, wantCode: 0, wantHelp: "Usage:"},
		{name: "worker help", args: []string{"worker", "-h"}, wantCode: 0, wantHelp: "-concurrency"},
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
			cmd.Env = append(cleanEnv(), tt.env...)
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

// The lines the binary writes once its API listens (stdout) and once it
// has started an embedded Redis (stderr).
var (
	listenLine  = regexp.MustCompile(`(?m)^runq API on (http://\S+)$`)
	embeddedURL = regexp.MustCompile(`embedded Redis.* redis=(redis://127\.0\.0\.1:\d+)`)
)

var httpClient = &http.Client{Timeout: 30 * time.Second}

// submit posts a task and returns the record of the 202 answer.
func submit(t *testing.T, base, name string, payload any) results.Record {
	t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(tasks.Request{Name: name, Payload: raw})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient.Post(base+"/v1/tasks", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST /v1/tasks %s: %v", body, err)
	}
	return decodeRecord(t, resp, http.StatusAccepted)
}

// waitDone gets a task's record, waiting up to 10s for it to finish.
func waitDone(t *testing.T, base, id string) results.Record {
	t.Helper()
	return get(t, base, id+"?wait=10s")
}

// get gets the record at /v1/tasks/{idQuery}.
func get(t *testing.T, base, idQuery string) results.Record {
	t.Helper()
	resp, err := httpClient.Get(base + "/v1/tasks/" + idQuery)
	if err != nil {
		t.Fatalf("GET /v1/tasks/%s: %v", idQuery, err)
	}
	return decodeRecord(t, resp, http.StatusOK)
}

// waitStatus polls a task until it has status want, for up to timeout.
func waitStatus(t *testing.T, base, id string, want results.Status, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		rec := get(t, base, id)
		if rec.Status == want {
			return
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("task %s: status %s after %s, want %s", id, rec.Status, timeout, want)
		}
	}
}

func decodeRecord(t *testing.T, resp *http.Response, want int) results.Record {
	t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", resp.Request.Method, resp.Request.URL.Path, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d (%s), want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, raw, want)
	}
	var rec results.Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatalf("%s %s: body %s: %v", resp.Request.Method, resp.Request.URL.Path, raw, err)
	}
	return rec
}

// checkOutcome checks a finished task: with wantErr, failed at its first
// attempt with an error containing wantErr; else succeeded at its first
// attempt with a result that decodes to want.
func checkOutcome(t *testing.T, rec results.Record, want any, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if rec.Status != results.StatusFailed || rec.Attempts != 1 || !strings.Contains(rec.Error, wantErr) {
			t.Errorf("task %s: status, attempts, error = %s, %d, %q, want %s, 1, containing %q",
				rec.Name, rec.Status, rec.Attempts, rec.Error, results.StatusFailed, wantErr)
		}
		return
	}
	if rec.Status != results.StatusSucceeded || rec.Attempts != 1 {
		t.Fatalf("task %s: status, attempts = %s, %d (error %q), want %s, 1",
			rec.Name, rec.Status, rec.Attempts, rec.Error, results.StatusSucceeded)
	}
	if got := decodeAs(t, rec.Result, want); !reflect.DeepEqual(got, want) {
		t.Errorf("task %s: result = %#v, want %#v", rec.Name, got, want)
	}
}

// decodeAs decodes raw into a new value of like's type (any for a nil like).
func decodeAs(t *testing.T, raw json.RawMessage, like any) any {
	t.Helper()
	v := reflect.New(reflect.TypeOf(&like).Elem())
	if like != nil {
		v = reflect.New(reflect.TypeOf(like))
	}
	if err := json.Unmarshal(raw, v.Interface()); err != nil {
		t.Fatalf("result %s does not decode as %T: %v", raw, like, err)
	}
	return v.Elem().Interface()
}

// binDir holds the binary built by binary; TestMain removes it.
var (
	binDir    string
	buildOnce sync.Once
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary builds runq once for every test of this package and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go") // go test puts its own GOROOT/bin first on PATH
		if err != nil {
			buildErr = fmt.Errorf("no go command to build the binary: %v", err)
			return
		}
		if binDir, err = os.MkdirTemp("", "runq-test-"); err != nil {
			buildErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, goTool, "build", "-o", binDir+"/runq", "github.com/runq/runq/cmd/runq").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir + "/runq"
}

// proc is a running binary whose output the test reads.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *output
	exited         chan struct{} // closed once the process has exited and its output is read
	exitedAt       time.Time     // when exited was closed
}

// start runs bin with args and an environment free of runq's variables
// (so that a REDIS_URL of the test run never reaches it). The process is
// killed at cleanup if it is still running.
func start(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), stdout: newOutput(), stderr: newOutput(), exited: make(chan struct{})}
	p.cmd.Env = cleanEnv()
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { _ = p.cmd.Wait(); p.exitedAt = time.Now(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			select {
			case <-p.exited:
			case <-time.After(10 * time.Second):
				t.Errorf("process %d still running 10s after SIGKILL", p.cmd.Process.Pid)
			}
		}
		if t.Failed() {
			t.Logf("%v\nstdout:\n%s\nstderr:\n%s", p.cmd.Args, p.stdout, p.stderr)
		}
	})
	return p
}

// cleanEnv returns this process's environment without REDIS_URL and RUNQ_*.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REDIS_URL=") && !strings.HasPrefix(kv, "RUNQ_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitFor waits up to timeout for re to match o and returns the submatches.
func (p *proc) waitFor(t *testing.T, o *output, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		m, changed := o.match(re)
		if m != nil {
			return m
		}
		select {
		case <-changed:
		case <-p.exited:
			if m, _ := o.match(re); m != nil {
				return m
			}
			t.Fatalf("process exited (%v) before its output matched %q", p.cmd.ProcessState, re)
		case <-deadline.C:
			t.Fatalf("output did not match %q within %s", re, timeout)
		}
	}
}

func (p *proc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to process %d: %v", sig, p.cmd.Process.Pid, err)
	}
}

// exitCode waits up to timeout for the process to exit and returns its code.
func (p *proc) exitCode(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("process %d still running after %s", p.cmd.Process.Pid, timeout)
		return 0
	}
}

// output collects a stream of a process; waiters learn of each write.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced at each write
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	close(o.changed)
	o.changed = make(chan struct{})
	return o.buf.Write(b)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// match returns re's submatches in the output so far (nil if none), and a
// channel closed at the next write.
func (o *output) match(re *regexp.Regexp) ([]string, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return re.FindStringSubmatch(o.buf.String()), o.changed
}
