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
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

func TestNewRegistry(t *testing.T) {
	t.Parallel()
	want := []string{"json.keys", "primes.count", "text.stats"}
	if got := newRegistry().Names(); !slices.Equal(got, want) {
		t.Errorf("newRegistry().Names() = %v, want %v", got, want)
	}
}

func TestTextStats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      StatsIn
		want    StatsOut
		skipErr bool // want an error wrapping tasks.ErrSkipRetry
	}{
		{name: "empty", in: StatsIn{}, want: StatsOut{Top: []WordCount{}}},
		{name: "one line without newline", in: StatsIn{Text: "a"},
			want: StatsOut{Words: 1, Lines: 1, Top: []WordCount{{"a", 1}}}},
		{name: "one line with newline", in: StatsIn{Text: "a\n"},
			want: StatsOut{Words: 1, Lines: 1, Top: []WordCount{{"a", 1}}}},
		{name: "blank lines count", in: StatsIn{Text: "\n\n"}, want: StatsOut{Lines: 2, Top: []WordCount{}}},
		{name: "case and punctuation", in: StatsIn{Text: "Hello, hello!\nWorld... (world) HELLO 42"},
			want: StatsOut{Words: 6, Lines: 2, Top: []WordCount{{"hello", 3}, {"world", 2}, {"42", 1}}}},
		{name: "ties alphabetical, default top 3", in: StatsIn{Text: "d c b a d c b"},
			want: StatsOut{Words: 7, Lines: 1, Top: []WordCount{{"b", 2}, {"c", 2}, {"d", 2}}}},
		{name: "top 1", in: StatsIn{Text: "x y y", Top: 1},
			want: StatsOut{Words: 3, Lines: 1, Top: []WordCount{{"y", 2}}}},
		{name: "top above word count", in: StatsIn{Text: "x", Top: MaxTop},
			want: StatsOut{Words: 1, Lines: 1, Top: []WordCount{{"x", 1}}}},
		{name: "unicode", in: StatsIn{Text: "Ça va? ça va."},
			want: StatsOut{Words: 4, Lines: 1, Top: []WordCount{{"va", 2}, {"ça", 2}}}},
		{name: "negative top", in: StatsIn{Text: "x", Top: -1}, skipErr: true},
		{name: "top too large", in: StatsIn{Text: "x", Top: MaxTop + 1}, skipErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := textStats(context.Background(), &tasks.Task{Name: "text.stats", Attempt: 1}, tt.in)
			if tt.skipErr {
				if !errors.Is(err, tasks.ErrSkipRetry) {
					t.Errorf("textStats(%+v) error = %v, want one wrapping tasks.ErrSkipRetry", tt.in, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("textStats(%+v) = %+v, %v, want %+v, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestJSONKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		payload string
		want    []string // nil: want an error wrapping tasks.ErrSkipRetry
	}{
		{`{"b": 1, "a": {"z": 2}, "c": null}`, []string{"a", "b", "c"}},
		{`{}`, []string{}},
		{`null`, nil},
		{`[1, 2]`, nil},
		{`"text"`, nil},
		{`42`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.payload, func(t *testing.T) {
			t.Parallel()
			got, err := jsonKeys(context.Background(), &tasks.Task{Name: "json.keys", Payload: json.RawMessage(tt.payload)})
			if tt.want == nil {
				if !errors.Is(err, tasks.ErrSkipRetry) {
					t.Errorf("jsonKeys(%s) = %v, %v, want an error wrapping tasks.ErrSkipRetry", tt.payload, got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("jsonKeys(%s) = %#v, %v, want %#v, nil", tt.payload, got, err, tt.want)
			}
		})
	}
}

func TestCountPrimes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		below   int
		want    PrimesOut
		skipErr bool
	}{
		{below: 0, want: PrimesOut{}},
		{below: 2, want: PrimesOut{}},
		{below: 3, want: PrimesOut{Count: 1, Largest: 2}},
		{below: 10, want: PrimesOut{Count: 4, Largest: 7}},
		{below: 100, want: PrimesOut{Count: 25, Largest: 97}},
		{below: 1_000_000, want: PrimesOut{Count: 78_498, Largest: 999_983}},
		{below: -1, skipErr: true},
		{below: MaxPrimesBelow + 1, skipErr: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.below), func(t *testing.T) {
			t.Parallel()
			got, err := countPrimes(context.Background(), &tasks.Task{Name: "primes.count"}, PrimesIn{Below: tt.below})
			if tt.skipErr {
				if !errors.Is(err, tasks.ErrSkipRetry) {
					t.Errorf("countPrimes(%d) error = %v, want one wrapping tasks.ErrSkipRetry", tt.below, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("countPrimes(%d) = %+v, %v, want %+v, nil", tt.below, got, err, tt.want)
			}
		})
	}
}

// TestCountPrimesStopsAtContext checks that a cancelled attempt returns the
// context's cause rather than running to the end.
func TestCountPrimesStopsAtContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(tasks.ErrTimeout)
	got, err := countPrimes(ctx, &tasks.Task{Name: "primes.count"}, PrimesIn{Below: 1 << 20})
	if !errors.Is(err, tasks.ErrTimeout) {
		t.Errorf("countPrimes(cancelled, %d) = %+v, %v, want error %v", 1<<20, got, err, tasks.ErrTimeout)
	}
}

// TestBinary builds the example, runs it with an embedded Redis, submits
// tasks over HTTP and stops it with SIGTERM.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	p := start(t, build(t), "--addr", "127.0.0.1:0", "--grace", "5s")
	base := p.waitFor(t, p.stdout, listenLine, 30*time.Second)[1]

	tests := []struct {
		name, task     string
		payload        any
		want           any    // the result, decoded into a value of its type
		wantErr        string // for a failed task: part of its error
		wantMaxRetries int
		wantTimeout    time.Duration
	}{
		{name: "typed", task: "text.stats", payload: StatsIn{Text: "b a b\nc", Top: 2},
			want: StatsOut{Words: 4, Lines: 2, Top: []WordCount{{"b", 2}, {"a", 1}}}, wantMaxRetries: 3, wantTimeout: 30 * time.Minute},
		{name: "untyped", task: "json.keys", payload: map[string]int{"y": 1, "x": 2},
			want: []string{"x", "y"}, wantMaxRetries: 3, wantTimeout: 30 * time.Minute},
		{name: "handler options", task: "primes.count", payload: PrimesIn{Below: 100},
			want: PrimesOut{Count: 25, Largest: 97}, wantMaxRetries: 0, wantTimeout: 5 * time.Second},
		{name: "invalid input", task: "text.stats", payload: StatsIn{Top: -1},
			wantErr: "top is -1", wantMaxRetries: 3, wantTimeout: 30 * time.Minute},
		{name: "payload not an object", task: "json.keys", payload: []int{1},
			wantErr: "payload must be a JSON object", wantMaxRetries: 3, wantTimeout: 30 * time.Minute},
		{name: "payload of the wrong type", task: "text.stats", payload: map[string]int{"text": 1},
			wantErr: "does not decode", wantMaxRetries: 3, wantTimeout: 30 * time.Minute},
	}
	t.Run("tasks", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				rec := submit(t, base, tt.task, tt.payload)
				if rec.MaxRetries != tt.wantMaxRetries || time.Duration(rec.Timeout) != tt.wantTimeout {
					t.Errorf("submit %s: max_retries, timeout = %d, %s, want %d, %s",
						tt.task, rec.MaxRetries, time.Duration(rec.Timeout), tt.wantMaxRetries, tt.wantTimeout)
				}
				checkOutcome(t, waitDone(t, base, rec.ID.String()), tt.want, tt.wantErr)
			})
		}
	})

	p.signal(t, syscall.SIGTERM)
	if code := p.exitCode(t, 20*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
}

// The line the binary prints on stdout once its API listens.
var listenLine = regexp.MustCompile(`(?m)^runq API on (http://\S+)$`)

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
	resp, err := httpClient.Get(base + "/v1/tasks/" + id + "?wait=10s")
	if err != nil {
		t.Fatalf("GET /v1/tasks/%s?wait=10s: %v", id, err)
	}
	return decodeRecord(t, resp, http.StatusOK)
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

// build compiles this command into a temporary directory.
func build(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go") // go test puts its own GOROOT/bin first on PATH
	if err != nil {
		t.Skipf("no go command to build the binary: %v", err)
	}
	bin := t.TempDir() + "/example"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool, "build", "-o", bin, "github.com/runq/runq/cmd/example").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
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
