package outages

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// runqBuild builds ./cmd/runq once per test process.
var runqBuild struct {
	once      sync.Once
	dir, path string
	err       error
}

// RunqBinary builds github.com/runq/runq/cmd/runq with `go build` into a
// temporary directory, once per test process, and returns its path.
// RemoveBinaries deletes it.
func RunqBinary(t testing.TB) string {
	t.Helper()
	runqBuild.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			runqBuild.err = fmt.Errorf("no go command to build runq: %v", err)
			return
		}
		if runqBuild.dir, err = os.MkdirTemp("", "runq-outages-"); err != nil {
			runqBuild.err = err
			return
		}
		runqBuild.path = filepath.Join(runqBuild.dir, "runq")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, goTool, "build", "-o", runqBuild.path, "github.com/runq/runq/cmd/runq").CombinedOutput()
		if err != nil {
			runqBuild.err = fmt.Errorf("go build ./cmd/runq: %v\n%s", err, out)
		}
	})
	if runqBuild.err != nil {
		t.Fatal(runqBuild.err)
	}
	return runqBuild.path
}

// RemoveBinaries deletes what RunqBinary built; TestMain calls it.
func RemoveBinaries() {
	if runqBuild.dir != "" {
		_ = os.RemoveAll(runqBuild.dir)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Runq is a runq process started by the test.
type Runq struct {
	Stdout, Stderr *syncBuffer
	cmd            *exec.Cmd
	exited         chan struct{}
}

var listenLine = regexp.MustCompile(`(?m)^runq API on (http://\S+)$`)

// StartRunq starts the runq binary with args, in an environment without
// REDIS_URL and RUNQ_* (so that nothing of the caller's leaks in). It is
// killed by its PID at cleanup if still running; on failure its output is
// logged.
func StartRunq(t testing.TB, args ...string) *Runq {
	t.Helper()
	cmd := exec.Command(RunqBinary(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REDIS_URL=") && !strings.HasPrefix(kv, "RUNQ_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	p := &Runq{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, cmd: cmd, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Stdout, p.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start runq: %v", err)
	}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		if p.Alive() {
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("runq %v (pid %d)\nstdout:\n%s\nstderr (last lines):\n%s",
				cmd.Args[1:], cmd.Process.Pid, tail(p.Stdout.String(), 10), tail(p.Stderr.String(), 40))
		}
	})
	return p
}

// StartRunqAPI starts runq as StartRunq does and waits up to 30s for the
// line announcing its API; it returns the API's base URL.
func StartRunqAPI(t testing.TB, args ...string) (*Runq, string) {
	t.Helper()
	p := StartRunq(t, args...)
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if m := listenLine.FindStringSubmatch(p.Stdout.String()); m != nil {
			return p, m[1]
		}
		select {
		case <-p.exited:
			t.Fatalf("runq exited (%v) before its API listened", p.cmd.ProcessState)
		case <-deadline.C:
			t.Fatal("runq API did not listen within 30s")
		case <-tick.C:
		}
	}
}

// PID returns the process ID.
func (p *Runq) PID() int { return p.cmd.Process.Pid }

// Alive reports whether the process is still running.
func (p *Runq) Alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Kill stops the process with SIGKILL, by its PID, as a crash or a lost
// machine would, and waits for it to exit.
func (p *Runq) Kill() {
	if p.Alive() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// Stop sends SIGTERM and waits up to timeout for the exit; it returns the
// exit code, or an error if the process is still running.
func (p *Runq) Stop(timeout time.Duration) (int, error) {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && p.Alive() {
		return 0, err
	}
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode(), nil
	case <-time.After(timeout):
		return 0, fmt.Errorf("runq (pid %d) still running %s after SIGTERM", p.PID(), timeout)
	}
}

// ProcStats is what /proc says about a process.
type ProcStats struct {
	Threads int // Threads: in /proc/<pid>/status
	FDs     int // entries of /proc/<pid>/fd
	RSSKB   int // VmRSS: in /proc/<pid>/status, in kB
}

// ReadProcStats reads pid's thread count, open files and resident memory.
func ReadProcStats(pid int) (ProcStats, error) {
	var s ProcStats
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.Atoi(fields[0])
		switch k {
		case "Threads":
			s.Threads = n
		case "VmRSS":
			s.RSSKB = n
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return s, err
	}
	s.FDs = len(fds)
	return s, nil
}
