package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runq/runq/cmd/internal/proctest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
	"github.com/runq/runq/tasks/builtin"
)

// noHandlers is the error of a worker whose registry is empty. Run returns
// it after every flag and variable has been checked and before anything
// starts, so tests use it to see that a command line was accepted.
const noHandlers = "registers no handlers"

type setup struct {
	builtins, empty *tasks.Registry
	stdout, stderr  *bytes.Buffer
}

func newSetup(t *testing.T) setup {
	t.Helper()
	reg := tasks.NewRegistry()
	builtin.Register(reg)
	return setup{builtins: reg, empty: tasks.NewRegistry(), stdout: new(bytes.Buffer), stderr: new(bytes.Buffer)}
}

// runArgs calls Run with a context that cannot outlive the test's patience.
func (s setup) runArgs(t *testing.T, reg *tasks.Registry, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return Run(ctx, append([]string{"runq"}, args...), reg, s.stdout, s.stderr)
}

func TestRunUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		empty   bool   // run with a registry without handlers
		wantErr string // part of the error, which must wrap ErrUsage
	}{
		{args: []string{"bogus"}, wantErr: `unknown command "bogus"`},
		{args: []string{"Serve"}, wantErr: `unknown command "Serve"`},
		{args: []string{"serve", "extra"}, wantErr: `unexpected argument "extra"`},
		{args: []string{"--nope"}, wantErr: "unknown flag --nope (see all --help)"},
		{args: []string{"worker", "-nope=1"}, wantErr: "unknown flag --nope (see worker --help)"},
		{args: []string{"worker", "--addr", ":9000"}, wantErr: "--addr is not a flag of worker: it is a flag of all and serve"},
		{args: []string{"worker", "--api-token=x"}, wantErr: "--api-token is not a flag of worker"},
		{args: []string{"serve", "--concurrency", "5"}, wantErr: "--concurrency is not a flag of serve: it is a flag of all and worker"},
		{args: []string{"serve", "-queues", "a"}, wantErr: "--queues is not a flag of serve"},
		{args: []string{"--concurrency", "abc"}, wantErr: `--concurrency "abc": not a whole number`},
		{args: []string{"--concurrency", "0"}, wantErr: "--concurrency must be 1 to 10000"},
		{args: []string{"--concurrency", "10001"}, wantErr: "--concurrency must be 1 to 10000"},
		{args: []string{"--queues", ""}, wantErr: "--queues must name at least one queue"},
		{args: []string{"--queues", " , "}, wantErr: "--queues must name at least one queue"},
		{args: []string{"--queues", "high,no spaces"}, wantErr: "--queues"},
		{args: []string{"--queues", "critical:6,default"}, wantErr: `--queues "critical:6,default": give every queue a weight`},
		{args: []string{"--queues", "critical:0"}, wantErr: `weight "0" of queue critical: want a whole number 1 to 1000`},
		{args: []string{"--queues", "a:x y:1"}, wantErr: "--queues"},
		{args: []string{"--result-ttl", "999ms"}, wantErr: "--result-ttl must be 1s to 720h"},
		{args: []string{"--result-ttl", "1d"}, wantErr: "not a duration"},
		{args: []string{"--visibility-timeout", "99ms"}, wantErr: "--visibility-timeout must be at least 100ms"},
		{args: []string{"--grace", "0s"}, wantErr: "--grace must be positive"},
		{args: []string{"--batch-wait", "-1ms"}, wantErr: "--batch-wait must be 0 to 1s"},
		{args: []string{"--batch-wait", "1001ms"}, wantErr: "--batch-wait must be 0 to 1s"},
		{args: []string{"serve", "--batch-wait", "5ms"}, wantErr: "--batch-wait is not a flag of serve"},
		{args: []string{"--max-crashes", "-2"}, wantErr: "--max-crashes must be -1"},
		{args: []string{"--max-crashes", "0"}, wantErr: "--max-crashes must be -1 (no limit) or at least 1"},
		{args: []string{"--body-limit", "1023"}, wantErr: "--body-limit must be at least 1024 bytes"},
		{args: []string{"--body-limit", "1MB"}, wantErr: "not a whole number"},
		{args: []string{"--max-retries", "-1"}, wantErr: "--max-retries must be 0 to 1000"},
		{args: []string{"--task-timeout", "-1s"}, wantErr: "--task-timeout must be 1ms to 24h"},
		{args: []string{"--prefix", "a{b}"}, wantErr: "--prefix must be 1-64 printable ASCII characters without braces"},
		{args: []string{"help", "nope"}, wantErr: "help nope: no such command"},
		{args: []string{"--log-format", "xml"}, wantErr: "--log-format must be text or json"},
		{args: []string{"worker", "--metrics-addr", "localhost"}, wantErr: `--metrics-addr "localhost": want HOST:PORT`},
		{args: []string{"--metrics-addr", "127.0.0.1:65536"}, wantErr: `--metrics-addr "127.0.0.1:65536"`},
		{args: []string{"--metrics-addr", "127.0.0.1:http"}, wantErr: `--metrics-addr "127.0.0.1:http"`},
		{args: []string{"serve", "--metrics-addr", ":9091"}, wantErr: "--metrics-addr is not a flag of serve"},
		{args: []string{"--log-level", "loud"}, wantErr: `--log-level "loud"`},
		{args: []string{"worker", "--rate", "echo=10"}, wantErr: `--rate echo=10: rate "10": want N/s, N/m or N/h`},
		{args: []string{"worker", "--rate", "echo=1/s,nope=1/s"}, wantErr: "--rate nope=1/s: no handler of that name (this program's: echo"},
		{args: []string{"worker", "--rate", "echo"}, wantErr: `--rate "echo": want NAME=VALUE`},
		{args: []string{"--max-running", "sleep=x"}, wantErr: "--max-running sleep=x: not a whole number"},
		{args: []string{"--max-running", "sleep=-1"}, wantErr: "--max-running sleep=-1: max_running -1: must be 0 to"},
		{args: []string{"serve", "--rate", "echo=1/s"}, wantErr: "--rate is not a flag of serve"},
		{args: []string{"worker"}, empty: true, wantErr: noHandlers},
		{args: []string{}, empty: true, wantErr: noHandlers},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			s := newSetup(t)
			reg := s.builtins
			if tt.empty {
				reg = s.empty
			}
			err := s.runArgs(t, reg, tt.args...)
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Run(%q) = %v, want a usage error containing %q", tt.args, err, tt.wantErr)
			}
			if s.stdout.Len() != 0 {
				t.Errorf("Run(%q) wrote %q to stdout, want nothing", tt.args, s.stdout)
			}
		})
	}
}

// TestRunAccepts checks values at the edges of their ranges: each command
// line passes every check and stops only for want of handlers.
func TestRunAccepts(t *testing.T) {
	t.Parallel()
	tests := [][]string{
		{"worker"},
		{"all", "--concurrency", "1"},
		{"--concurrency", "10000"},
		{"--queues", "high, default ,low"},
		{"worker", "--queues", "critical:1000, default:3 ,low:1"},
		{"--result-ttl", "1s", "--visibility-timeout", "100ms", "--grace", "1ns"},
		{"--max-crashes", "-1", "--max-retries", "0", "--body-limit", "1024", "--task-timeout", "1ms", "--prefix", "other"},
		{"--log-format", "json", "--log-level", "DEBUG"},
		{"--log-level", "warn", "--redis", "redis://127.0.0.1:1", "--addr", "127.0.0.1:1"},
		{"--concurrency=5", "-grace=2s"},
		{"worker", "--batch-wait", "0s"},
		{"--batch-wait", "1s"},
		{"worker", "--metrics-addr", "127.0.0.1:0"},
		{"--metrics-addr", ":9091"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			s := newSetup(t)
			if err := s.runArgs(t, s.empty, args...); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), noHandlers) {
				t.Errorf("Run(%q) = %v, want the error %q", args, err, noHandlers)
			}
		})
	}
}

func TestRunVersion(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // version returns at once, whatever the context
	if err := Run(ctx, []string{"runq", "version"}, s.empty, s.stdout, s.stderr); err != nil {
		t.Fatalf("Run(version) = %v, want nil", err)
	}
	if got, want := s.stdout.String(), "runq "+Version+"\n"; got != want {
		t.Errorf("Run(version) stdout = %q, want %q", got, want)
	}
	if s.stderr.Len() != 0 {
		t.Errorf("Run(version) stderr = %q, want nothing", s.stderr)
	}
}

// TestRunHelp checks each command's help: its purpose, only its own
// flags, by group, as --flag, and an example.
func TestRunHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args      []string
		want, not []string
	}{
		{[]string{"-h"}, []string{"Usage:", "myq serve [flags]", "myq worker [flags]", "myq all: run the HTTP API and a worker pool",
			"Redis:", "HTTP API:", "Worker:", "Logging:", "--concurrency N", "(env RUNQ_CONCURRENCY; default 10)", "--redis URL", "Example:"}, nil},
		{[]string{"help"}, []string{"Usage:", "myq serve [flags]", "myq help [command]"}, []string{"--concurrency"}},
		{[]string{"serve", "--help"}, []string{"myq serve: run only the HTTP API", "--addr HOST:PORT", "--api-token", "--redis URL",
			"--max-retries", "Example:\n  myq serve"}, []string{"--concurrency", "--queues", "Worker:", "myq worker [flags]", "  -addr"}},
		{[]string{"help", "worker"}, []string{"myq worker: run only a worker pool", "--concurrency N", "--queues LIST", "--grace",
			"Example:\n  myq worker"}, []string{"--addr", "--api-token", "HTTP API:", "--max-retries"}},
		{[]string{"worker", "-h"}, []string{"myq worker: run only a worker pool"}, []string{"--addr"}},
		{[]string{"all", "-help"}, []string{"myq all: run the HTTP API and a worker pool", "--addr", "--concurrency"}, []string{"myq serve [flags]"}},
		{[]string{"help"}, []string{"myq submit NAME [JSON | @file | -]", "myq purge --queue Q --status S", "env RUNQ_API"}, nil},
		{[]string{"help", "submit"}, []string{"myq submit: submit a task", "Usage: myq submit NAME [JSON | @file | -] [flags]",
			"--api URL", "--api-token TOKEN", "--wait", "--timeout DURATION", "Example:\n  myq submit echo"}, []string{"--concurrency", "(default 0s)"}},
		{[]string{"tasks", "-h"}, []string{"Usage: myq tasks [flags]", "--status STATUS", "--limit N", "(default 50)"}, []string{"--wait"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			s := newSetup(t)
			err := Run(context.Background(), append([]string{"/usr/bin/myq"}, tt.args...), s.builtins, s.stdout, s.stderr)
			if !errors.Is(err, flag.ErrHelp) {
				t.Errorf("Run(%q) = %v, want %v", tt.args, err, flag.ErrHelp)
			}
			for _, want := range tt.want {
				if !strings.Contains(s.stdout.String(), want) {
					t.Errorf("Run(%q) stdout does not contain %q:\n%s", tt.args, want, s.stdout)
				}
			}
			for _, not := range tt.not {
				if strings.Contains(s.stdout.String(), not) {
					t.Errorf("Run(%q) stdout contains %q:\n%s", tt.args, not, s.stdout)
				}
			}
			if s.stderr.Len() != 0 {
				t.Errorf("Run(%q) stderr = %q, want nothing (help asked for goes to stdout)", tt.args, s.stderr)
			}
		})
	}
}

// TestHint checks the start-up hint: a handler this program has with a
// payload that fits it, a URL reachable from this machine, and the token
// header when a token is set.
func TestHint(t *testing.T) {
	t.Parallel()
	builtins := tasks.NewRegistry()
	builtin.Register(builtins)
	typed := tasks.NewRegistry()
	typed.HandleFunc("a.untyped", func(context.Context, *tasks.Task) (any, error) { return nil, nil })
	tasks.Handle(typed, "b.typed", func(ctx context.Context, t *tasks.Task, in struct {
		N int `json:"n"`
	}) (int, error) {
		return in.N, nil
	})
	untyped := tasks.NewRegistry()
	untyped.HandleFunc("a.untyped", func(context.Context, *tasks.Task) (any, error) { return nil, nil })
	tests := []struct {
		reg   *tasks.Registry
		token bool
		want  string
	}{
		{builtins, false, `try: curl -s -X POST http://127.0.0.1:8080/v1/tasks -H 'Content-Type: application/json' -d '{"name":"echo","payload":{"hello":"world"}}'`},
		{builtins, true, `-H 'Content-Type: application/json' -H "Authorization: Bearer $RUNQ_API_TOKEN" -d '{"name":"echo"`},
		{typed, false, `-d '{"name":"b.typed","payload":{"n":0}}'`},
		{untyped, false, ""},
	}
	for _, tt := range tests {
		got := hint("http://127.0.0.1:8080", tt.reg, tt.token)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("hint(%v, token %v) = %q, want it to contain %q", tt.reg.Names(), tt.token, got, tt.want)
		}
	}
	for addr, want := range map[string]string{
		"0.0.0.0:8080": "http://127.0.0.1:8080", "[::]:9000": "http://[::1]:9000",
		"127.0.0.1:1": "http://127.0.0.1:1", "10.1.2.3:80": "http://10.1.2.3:80", "[::1]:7": "http://[::1]:7",
	} {
		tcp, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := reachable(tcp); got != want {
			t.Errorf("reachable(%s) = %s, want %s", addr, got, want)
		}
	}
}

// TestRunEnv checks each flag's environment twin: used when the flag is
// absent, overridden when it is given. t.Setenv rules out t.Parallel.
func TestRunEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string // part of the error; noHandlers means the line was accepted
	}{
		{"bad value names the variable", map[string]string{"RUNQ_CONCURRENCY": "abc"}, nil,
			`environment variable RUNQ_CONCURRENCY="abc": not a whole number`},
		{"bad duration names the variable", map[string]string{"RUNQ_GRACE": "soon"}, nil,
			`environment variable RUNQ_GRACE="soon"`},
		{"variable used", map[string]string{"RUNQ_CONCURRENCY": "0"}, nil, "--concurrency must be 1 to 10000"},
		{"flag wins", map[string]string{"RUNQ_CONCURRENCY": "0"}, []string{"--concurrency", "5"}, noHandlers},
		{"list variable used", map[string]string{"RUNQ_QUEUES": " , "}, nil, "--queues must name at least one queue"},
		{"list flag wins", map[string]string{"RUNQ_QUEUES": " , "}, []string{"--queues", "a"}, noHandlers},
		{"bad queue in variable", map[string]string{"RUNQ_QUEUES": "a,b c"}, nil, "--queues"},
		{"bad weight in variable", map[string]string{"RUNQ_QUEUES": "a:1,b:1001"}, nil,
			`environment variable RUNQ_QUEUES="a:1,b:1001": weight "1001" of queue b`},
		{"weights in variable", map[string]string{"RUNQ_QUEUES": "a:2,b:1"}, nil, noHandlers},
		{"log level variable used", map[string]string{"RUNQ_LOG_LEVEL": "loud"}, nil, `--log-level "loud"`},
		{"log level flag wins", map[string]string{"RUNQ_LOG_LEVEL": "loud"}, []string{"--log-level", "debug"}, noHandlers},
		{"log format variable used", map[string]string{"RUNQ_LOG_FORMAT": "xml"}, nil, "--log-format"},
		{"log format flag wins", map[string]string{"RUNQ_LOG_FORMAT": "xml"}, []string{"--log-format=json"}, noHandlers},
		{"good variables", map[string]string{
			"RUNQ_CONCURRENCY": "3", "RUNQ_QUEUES": "x,y", "RUNQ_RESULT_TTL": "1h", "RUNQ_VISIBILITY_TIMEOUT": "5s",
			"RUNQ_GRACE": "1s", "RUNQ_MAX_CRASHES": "-1", "RUNQ_BODY_LIMIT": "2048", "RUNQ_MAX_RETRIES": "0",
			"RUNQ_TASK_TIMEOUT": "1m", "RUNQ_LOG_LEVEL": "error", "RUNQ_LOG_FORMAT": "json", "RUNQ_PREFIX": "other",
			"RUNQ_ADDR": "127.0.0.1:0", "RUNQ_EMBEDDED_ADDR": "127.0.0.1:0", "REDIS_URL": "redis://127.0.0.1:1",
		}, nil, noHandlers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			s := newSetup(t)
			args := append([]string{"worker"}, tt.args...)
			err := s.runArgs(t, s.empty, args...)
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("with %v, Run(%q) = %v, want a usage error containing %q", tt.env, args, err, tt.wantErr)
			}
		})
	}
}

// TestRunRedisURL checks that REDIS_URL is used when --redis is absent and
// that --redis wins, by where a worker fails to connect. A connection
// error comes at run time; a malformed URL is a usage error.
func TestRunRedisURL(t *testing.T) {
	tests := []struct {
		name, env string
		args      []string
		want      string // part of the error
		usage     bool   // the error wraps errUsage
	}{
		{"variable used", "redis://127.0.0.1:1", nil, "connect to 127.0.0.1:1", false},
		{"flag wins", "redis://127.0.0.1:1", []string{"--redis", "redis://127.0.0.1:2"}, "connect to 127.0.0.1:2", false},
		{"bad url is a usage error", "", []string{"--redis", "http://127.0.0.1:1"}, "invalid redis url", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			if tt.env != "" {
				t.Setenv("REDIS_URL", tt.env)
			}
			s := newSetup(t)
			args := append([]string{"worker"}, tt.args...)
			err := s.runArgs(t, s.builtins, args...)
			if err == nil || errors.Is(err, ErrUsage) != tt.usage || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("with REDIS_URL=%q, Run(%q) = %v, want an error containing %q (usage error: %v)", tt.env, args, err, tt.want, tt.usage)
			}
		})
	}
}

// clearEnv unsets REDIS_URL and every RUNQ_ variable for the test, so that
// the environment of the test run does not leak into it.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "REDIS_URL" || strings.HasPrefix(k, "RUNQ_") {
			t.Setenv(k, "") // restores the value at cleanup
			os.Unsetenv(k)
		}
	}
}

// TestRunUntilCanceled runs each command in process on an embedded Redis
// (--redis= overrides any REDIS_URL of the test run), then cancels its
// context: Run must return nil.
func TestRunUntilCanceled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cmd   string
		flags []string
		ready *regexp.Regexp // matched on stdout+stderr once the command runs
	}{
		{"all", []string{"--addr", "127.0.0.1:0", "--grace", "5s"}, proctest.ListenLine},
		{"serve", []string{"--addr", "127.0.0.1:0"}, proctest.ListenLine},
		{"worker", []string{"--grace", "5s"}, regexp.MustCompile(`msg="worker pool started"`)},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			t.Parallel()
			s := newSetup(t)
			out := proctest.NewOutput()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var runErr error             // Run's return, set before ended is closed
			ended := make(chan struct{}) // closed once Run has returned
			args := append([]string{"runq", tt.cmd, "--redis="}, tt.flags...)
			go func() { runErr = Run(ctx, args, s.builtins, out, out); close(ended) }()

			m := out.WaitFor(t, tt.ready, 30*time.Second, ended, func() string { return fmt.Sprintf("Run returned %v", runErr) })
			select {
			case <-ended:
				t.Fatalf("Run(%q) = %v before its context was canceled, want it to keep running", args, runErr)
			default:
			}
			if tt.cmd == "all" {
				checkEcho(t, m[1])
			}
			cancel()
			select {
			case <-ended:
				if runErr != nil {
					t.Errorf("Run(%q) after cancel = %v, want nil", args, runErr)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("Run(%q) still running 20s after cancel", args)
			}
		})
	}
}

// checkEcho submits an echo task to the API at base and reads its result.
func checkEcho(t *testing.T, base string) {
	t.Helper()
	rec := proctest.WaitDone(t, base, proctest.Submit(t, base, "echo", map[string]int{"a": 1}).ID)
	if rec.Status != results.StatusSucceeded || string(rec.Result) != `{"a":1}` {
		t.Errorf("GET /v1/tasks/%s = %s %s, want %s {\"a\":1}", rec.ID, rec.Status, rec.Result, results.StatusSucceeded)
	}
}
