package workers

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runq/runq/cmd/internal/proctest"
)

// proc is a process this test started. It is killed by its PID at cleanup
// if it is still running, and its output is logged if the test failed.
type proc struct {
	name     string
	cmd      *exec.Cmd
	out      *proctest.Output // stdout and stderr, interleaved
	exited   chan struct{}    // closed once the process has exited
	exitedAt time.Time        // set before exited is closed
}

// startProc runs bin with args; env is added to an environment free of
// REDIS_URL and RUNQ_* variables.
func startProc(t *testing.T, name, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), out: proctest.NewOutput(), exited: make(chan struct{})}
	p.cmd.Env = append(proctest.CleanEnv(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { _ = p.cmd.Wait(); p.exitedAt = time.Now(); close(p.exited) }()
	t.Cleanup(func() {
		p.kill(t)
		if t.Failed() {
			t.Logf("%s (pid %d, %v) output:\n%s", p.name, p.pid(), p.cmd.ProcessState, tail(p.out.String(), 6000))
		}
	})
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL to the process, if it still runs, and waits for it.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("%s (pid %d) still running 10s after SIGKILL", p.name, p.pid())
	}
}

// signal sends sig to the process.
func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to %s (pid %d): %v", sig, p.name, p.pid(), err)
	}
}

// wait waits up to timeout for the process to exit and returns its exit
// code (-1 when killed by a signal); the test fails at the timeout.
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("%s (pid %d) still running after %s", p.name, p.pid(), timeout)
		return 0
	}
}

// waitFor waits up to timeout for re to match the output, failing the test
// at the timeout or if the process exits first.
func (p *proc) waitFor(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	return p.out.WaitFor(t, re, timeout, p.exited, func() string {
		return fmt.Sprintf("%s (pid %d) exited (%v)", p.name, p.pid(), p.cmd.ProcessState)
	})
}

var poolStarted = regexp.MustCompile(`msg="worker pool started"`)

// startWorker runs `faultworker worker` against s's Redis with args and
// waits until its pool has started.
func (s *bundle) startWorker(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := s.startWorkerNoWait(t, name, args...)
	p.waitFor(t, poolStarted, 30*time.Second)
	return p
}

// startWorkerNoWait runs `faultworker worker` and returns at once. The
// worker reads REDIS_URL, and so does its "record" handler. At cleanup
// the test fails if the worker ever wrote the Redis password.
func (s *bundle) startWorkerNoWait(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := startProc(t, name, faultworker.Path(t), []string{"REDIS_URL=" + s.url},
		append([]string{"worker"}, args...)...)
	t.Cleanup(func() {
		if strings.Contains(p.out.String(), s.pass) {
			t.Errorf("%s (pid %d) wrote the Redis password in its output", p.name, p.pid())
		}
	})
	return p
}
