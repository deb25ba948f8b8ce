package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/api/client"
)

// ChildEnv, set in a process's environment, makes that process a child of
// the bench (see RunChild): "waiters" the HTTP client side of the waiters
// scenario, "steady-worker" the worker of the steady rows. The bench sets
// it when it re-runs its own executable; `runq bench` and the bench's
// tests check it first thing. "steady-floor" is the floor rows' bare HTTP
// server (see runFloor).
const ChildEnv = "RUNQ_BENCH_CHILD"

// The values of ChildEnv.
const (
	childWaiters = "waiters"
	childWorker  = "steady-worker"
)

// IsChild reports whether this process was started as a child of the
// bench.
func IsChild() bool {
	kind := os.Getenv(ChildEnv)
	return kind == childWaiters || kind == childWorker || kind == childFloor
}

// childCommand is this executable re-run as the bench's child of kind.
func childCommand(ctx context.Context, kind string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this executable to re-run as the %s child: %w", kind, err)
	}
	cmd := exec.CommandContext(ctx, exe, "bench")
	cmd.Env = append(os.Environ(), ChildEnv+"="+kind)
	cmd.WaitDelay = 5 * time.Second
	return cmd, nil
}

// childParams is what the bench sends its child on stdin. The child starts
// polling when stdin closes, so the bench can read its idle figures first.
type childParams struct {
	URL   string   `json:"url"`   // the API, http://127.0.0.1:port
	Wait  string   `json:"wait"`  // ?wait= of every GET
	IDs   []string `json:"ids"`   // one long poll each, on its own connection
	Dials int      `json:"dials"` // connections being opened at once
}

// answer is what one long poll got back.
type answer struct {
	Code   int             `json:"code"`
	Status string          `json:"status,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	At     int64           `json:"at"` // UnixNano when the whole body was read
	Err    string          `json:"err,omitempty"`
}

// RunChild runs this process as the child that ChildEnv names: the steady
// rows' worker (see runWorker), the floor rows' server (see runFloor), or
// the waiters scenario's client, which
// reads childParams from stdin (to EOF), then long-polls every ID through
// runq's HTTP client (api/client), each poll on a connection of its own to
// the API on loopback, and when every poll has answered (or failed) writes
// the answers, in ID order, to stdout as JSON. Each poll is bounded by its
// wait plus 30s.
func RunChild(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	switch os.Getenv(ChildEnv) {
	case childWorker:
		return runWorker(ctx, stdin, stdout)
	case childFloor:
		return runFloor(ctx, stdin)
	}
	data, err := io.ReadAll(stdin)
	if err != nil {
		return fmt.Errorf("bench child: read parameters: %w", err)
	}
	var p childParams
	if err := json.Unmarshal(data, &p); err != nil {
		return fmt.Errorf("bench child: parameters: %w", err)
	}
	wait, err := time.ParseDuration(p.Wait)
	if err != nil {
		return fmt.Errorf("bench child: wait %q: %w", p.Wait, err)
	}
	if err := raiseFileLimit(len(p.IDs) + 64); err != nil {
		return fmt.Errorf("bench child: %w", err)
	}
	c, err := pollClient(p.URL, wait, max(1, p.Dials))
	if err != nil {
		return fmt.Errorf("bench child: %w", err)
	}
	out := make([]answer, len(p.IDs))
	var wg sync.WaitGroup
	for i, id := range p.IDs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = longPoll(ctx, c, id, wait+30*time.Second)
		}()
	}
	wg.Wait()
	return json.NewEncoder(stdout).Encode(out)
}

// pollClient returns an API client whose every request has a connection
// of its own (the parked answer closes it anyway), at most dials of them
// being opened at once.
func pollClient(base string, wait time.Duration, dials int) (*client.Client, error) {
	slots := make(chan struct{}, dials)
	var d net.Dialer
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			defer func() { <-slots }()
			return d.DialContext(ctx, network, addr)
		},
	}
	return client.New(base, client.Config{HTTPClient: &http.Client{Transport: tr}, MaxWait: wait})
}

// longPoll waits for task id through c, within limit, and tells what
// came back and when.
func longPoll(ctx context.Context, c *client.Client, id string, limit time.Duration) answer {
	uid, err := uuid.Parse(id)
	if err != nil {
		return answer{Err: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	rec, err := c.Wait(ctx, uid)
	a := answer{Code: http.StatusOK, At: time.Now().UnixNano()}
	var ae *client.Error
	switch {
	case errors.As(err, &ae):
		a.Code, a.Err = ae.Status, ae.Message
	case err != nil:
		a.Code, a.Err = 0, err.Error()
	default:
		a.Status, a.Result = string(rec.Status), rec.Result
	}
	return a
}

// child is the bench's handle on the client process.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout bytes.Buffer
	stderr tailBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // its exit error, once done is closed
}

// startChild re-runs this executable as the client and hands it p; the
// child waits until release before it polls.
func startChild(ctx context.Context, p childParams) (*child, error) {
	c := &child{done: make(chan struct{})}
	var err error
	if c.cmd, err = childCommand(ctx, childWaiters); err != nil {
		return nil, err
	}
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the client process: %w", err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	if err := json.NewEncoder(c.stdin).Encode(p); err != nil {
		c.kill()
		return nil, fmt.Errorf("send the client its parameters: %w (%s)", err, c.stderr.String())
	}
	return c, nil
}

// release lets the child start polling.
func (c *child) release() error { return c.stdin.Close() }

// exited reports whether the child has exited.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// answers waits up to limit for the child to exit and returns its answers.
func (c *child) answers(limit time.Duration) ([]answer, error) {
	select {
	case <-c.done:
	case <-time.After(limit):
		c.kill()
		return nil, fmt.Errorf("client process still running after %s: killed", limit)
	}
	if c.err != nil {
		return nil, fmt.Errorf("client process: %w: %s", c.err, c.stderr.String())
	}
	var out []answer
	if err := json.Unmarshal(c.stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("client process output: %w", err)
	}
	return out, nil
}

// why explains a child that stopped short: the end of its stderr, else
// the first failed poll among its answers.
func (c *child) why() string {
	if msg := c.stderr.String(); msg != "" || !c.exited() {
		return msg
	}
	var out []answer
	if err := json.Unmarshal(c.stdout.Bytes(), &out); err != nil {
		return "exited with no answers"
	}
	for i, a := range out {
		if a.Err != "" || a.Code != http.StatusOK {
			return fmt.Sprintf("exited; poll %d: HTTP %d %s", i, a.Code, a.Err)
		}
	}
	return "exited"
}

// kill ends the child, if it is still running, and waits for it.
func (c *child) kill() {
	_ = c.stdin.Close()
	if !c.exited() {
		_ = c.cmd.Process.Kill()
	}
	<-c.done
}

// tailBuffer keeps the last 4 KiB written to it: enough of a child's stderr
// to explain a failure.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - 4096; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}
