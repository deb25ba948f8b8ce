package workers

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/cmd/internal/proctest"
	"github.com/runq/runq/tasks"
)

// faultworker is built once per test run, on first use.
var faultworker = &proctest.Binary{Pkg: "github.com/runq/runq/cmd/faults/faultworker"}

func TestMain(m *testing.M) {
	code := m.Run()
	faultworker.Remove()
	runqBin.Remove()
	os.Exit(code)
}

// bundle is what every test starts from: its own redis-server, a client of
// it, and runq's broker and task client on the default key layout (the one
// the fault worker uses).
type bundle struct {
	url    string // redis://:<password>@127.0.0.1:<port>/0
	pass   string // the server's requirepass
	rdb    *redis.Client
	b      *broker.Broker
	client *tasks.Client
	full   bool // RUNQ_FAULT_SIZE=full: the full sizes
}

// setup starts a redis-server for t and returns the bundle. Without
// redis-server the test is skipped, or fails when CI=true or
// RUNQ_REQUIRE_REDIS=1.
func setup(t *testing.T) *bundle {
	t.Helper()
	full := fullSize(t)
	url, pass := startRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rdb, err := broker.Open(ctx, url, 32)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	client := tasks.NewClient(rdb, tasks.ClientConfig{})
	t.Cleanup(func() { client.Close() })
	return &bundle{url: url, pass: pass, rdb: rdb, b: broker.New(rdb, ""), client: client, full: full}
}

// fullSize reads RUNQ_FAULT_SIZE: unset or "ci" is the reduced size that
// CI runs, "full" the full sizes (cmd/faults/README.md).
func fullSize(t *testing.T) bool {
	t.Helper()
	switch v := os.Getenv("RUNQ_FAULT_SIZE"); v {
	case "", "ci":
		return false
	case "full":
		return true
	default:
		t.Fatalf("RUNQ_FAULT_SIZE=%q: want ci (the default) or full", v)
		return false
	}
}

// startRedis runs a redis-server on a free loopback port, without
// persistence, in a temporary directory, and stops it by its PID at
// cleanup. It returns its URL once it answers PING, and its password.
//
// The password is random: other tests on the machine start and restart
// Redis servers of their own, and a client of theirs that redials a port
// this server took over must not be able to claim this test's tasks. The
// port comes from the kernel (the ephemeral range); cmd/faults/outages
// picks its ports below that range, so that it can restart its servers on
// the same port, and the two never collide.
func startRedis(t *testing.T) (url, pass string) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if redistest.Required() {
			t.Fatalf("redis-server not found (%v), and CI=true or RUNQ_REQUIRE_REDIS=1 makes that a failure", err)
		}
		t.Skipf("redis-server not found (%v): the fault tests run a Redis of their own; install redis-server to run them", err)
	}
	pass = rand.Text()
	const tries = 3 // a port picked free can be taken before redis-server binds it
	for try := 1; ; try++ {
		port := freePort(t)
		dir := t.TempDir()
		p := startProc(t, "redis-server", bin, nil, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--requirepass", pass, "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no")
		url = fmt.Sprintf("redis://:%s@127.0.0.1:%d/0", pass, port)
		err := waitPing(url, p, 10*time.Second)
		if err == nil {
			return url, pass
		}
		p.kill(t)
		if try == tries {
			t.Fatalf("redis-server did not start after %d tries: %v\n%s", tries, err, tail(p.out.String(), 2000))
		}
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitPing waits up to timeout for the Redis at url to answer PING, or for
// p to exit.
func waitPing(url string, p *proc, timeout time.Duration) error {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-tick.C:
		case <-p.exited:
			return fmt.Errorf("redis-server exited (%v)", p.cmd.ProcessState)
		case <-deadline.C:
			return fmt.Errorf("no answer to PING within %s: %v", timeout, err)
		}
	}
}

// registerNames records task names in Redis as a worker would, so that
// tasks can be submitted before any worker runs. The workers register the
// same names, with the same (empty) defaults, when they start.
func (s *bundle) registerNames(t *testing.T, names ...string) {
	t.Helper()
	reg := tasks.NewRegistry()
	for _, n := range names {
		reg.HandleFunc(n, func(context.Context, *tasks.Task) (any, error) {
			return nil, errors.New("registered by the test, not run")
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tasks.NewPool(s.rdb, reg, tasks.PoolConfig{}).Register(ctx); err != nil {
		t.Fatal(err)
	}
}

// summary prints a test's line of figures both in the test log and on
// standard output.
func summary(t *testing.T, format string, args ...any) {
	t.Helper()
	line := "faults: " + fmt.Sprintf(format, args...)
	t.Log(line)
	fmt.Println(line)
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// seconds renders d rounded to 0.1s, for summary lines.
func seconds(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }
