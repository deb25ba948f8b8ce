package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// serveChild is an HTTP server run from this executable in a process of
// its own, so that its CPU is its own: `runq serve`, the API of the steady
// HTTP rows, or the floor rows' bare server.
type serveChild struct {
	proc *child
	url  string // http://127.0.0.1:port
	name string // what errors call it
}

// startServe starts `<this executable> serve` on the Redis at redisURL and
// the keys under prefix, on a free loopback port, with runq's defaults for
// everything else (RUNQ_* variables are not passed on: an --api-token
// from the environment would refuse the bench's requests), and waits
// until its /readyz answers.
func startServe(ctx context.Context, redisURL, prefix string) (*serveChild, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this executable to run serve: %w", err)
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "serve", "--prefix", prefix, "--addr", addr)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RUNQ_") && !strings.HasPrefix(kv, "REDIS_URL=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// REDIS_URL, serve's --redis, keeps a password out of the process list.
	cmd.Env = append(cmd.Env, "REDIS_URL="+redisURL)
	cmd.WaitDelay = 5 * time.Second
	return startHTTPChild(ctx, cmd, addr, "runq serve")
}

// startHTTPChild starts cmd, an HTTP server that is to listen on addr,
// and waits until it answers (see ready); what names it in errors.
func startHTTPChild(ctx context.Context, cmd *exec.Cmd, addr, what string) (*serveChild, error) {
	s := &serveChild{proc: &child{cmd: cmd, done: make(chan struct{})}, url: "http://" + addr, name: what}
	cmd.Stdout, cmd.Stderr = io.Discard, &s.proc.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", what, err)
	}
	go func() { s.proc.err = cmd.Wait(); close(s.proc.done) }()
	if err := s.ready(ctx); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// freePort is a loopback address whose port was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// ready waits up to 15s for GET /readyz to answer 200.
func (s *serveChild) ready(ctx context.Context) error {
	hc := &http.Client{Timeout: 3 * time.Second}
	defer hc.CloseIdleConnections()
	up := func() bool {
		resp, err := hc.Get(s.url + "/readyz")
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	err := waitFor(ctx, 15*time.Second, func() bool { return s.proc.exited() || up() })
	if s.proc.exited() {
		return fmt.Errorf("%s exited: %v: %s", s.name, s.proc.err, s.proc.stderr.String())
	}
	if err != nil {
		return fmt.Errorf("%s at %s not ready: %w: %s", s.name, s.url, err, s.proc.stderr.String())
	}
	return nil
}

// stop asks the server to shut down (SIGTERM), and kills it after 5s.
func (s *serveChild) stop() {
	if s.proc.exited() {
		return
	}
	_ = s.proc.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.proc.done:
	case <-time.After(5 * time.Second):
		_ = s.proc.cmd.Process.Kill()
		<-s.proc.done
	}
}

// pid is the child's process ID, for its CPU time.
func (s *serveChild) pid() int { return s.proc.cmd.Process.Pid }
