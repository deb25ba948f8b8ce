package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Proc is a running binary whose output the test reads.
type Proc struct {
	Stdout, Stderr *Output

	cmd      *exec.Cmd
	exited   chan struct{} // closed once the process has exited and its output is read
	exitedAt time.Time     // when exited was closed
}

// Start runs bin with args and CleanEnv's environment (so that a REDIS_URL
// of the test run never reaches it). The process is killed at cleanup if it
// is still running; if the test failed, its command line and output are
// logged then.
func Start(t *testing.T, bin string, args ...string) *Proc {
	t.Helper()
	p := &Proc{cmd: exec.Command(bin, args...), Stdout: NewOutput(), Stderr: NewOutput(), exited: make(chan struct{})}
	p.cmd.Env = CleanEnv()
	p.cmd.Stdout, p.cmd.Stderr = p.Stdout, p.Stderr
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
			t.Logf("%v\nstdout:\n%s\nstderr:\n%s", p.cmd.Args, p.Stdout, p.Stderr)
		}
	})
	return p
}

// CleanEnv returns this process's environment without REDIS_URL and RUNQ_*.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REDIS_URL=") && !strings.HasPrefix(kv, "RUNQ_") {
			env = append(env, kv)
		}
	}
	return env
}

// WaitFor waits up to timeout for re to match o (p.Stdout or p.Stderr) and
// returns the submatches. It fails the test at the timeout, or at once if
// the process exits and its whole output does not match.
func (p *Proc) WaitFor(t *testing.T, o *Output, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	return o.WaitFor(t, re, timeout, p.exited, func() string { return fmt.Sprintf("process exited (%v)", p.cmd.ProcessState) })
}

// StartAPI starts bin with args, as Start does, and waits up to 30s for the
// line announcing its HTTP API; it returns the process and the API's base
// URL, such as "http://127.0.0.1:41234".
func StartAPI(t *testing.T, bin string, args ...string) (*Proc, string) {
	t.Helper()
	p := Start(t, bin, args...)
	return p, p.WaitFor(t, p.Stdout, ListenLine, 30*time.Second)[1]
}

// Signal sends sig to the process, failing the test if it cannot.
func (p *Proc) Signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to process %d: %v", sig, p.cmd.Process.Pid, err)
	}
}

// ExitCode waits up to timeout for the process to exit and returns its code.
func (p *Proc) ExitCode(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("process %d still running after %s", p.cmd.Process.Pid, timeout)
		return 0
	}
}

// ExitedAt returns when the process was seen to exit, or the zero time if
// it is still running.
func (p *Proc) ExitedAt() time.Time {
	select {
	case <-p.exited:
		return p.exitedAt
	default:
		return time.Time{}
	}
}
