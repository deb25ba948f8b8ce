package proctest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker/redistest"
)

// StartRedis runs a redis-server of the test's own on a free loopback
// port, without persistence, in a temporary directory, killed at cleanup,
// and returns its URL once it answers. For tests of several processes
// that share one Redis, which the embedded one of `runq serve` would
// serve slowly. Without redis-server the test is skipped, or fails when
// CI=true or RUNQ_REQUIRE_REDIS=1.
func StartRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if redistest.Required() {
			t.Fatalf("redis-server not found (%v), and CI=true or RUNQ_REQUIRE_REDIS=1 makes that a failure", err)
		}
		t.Skipf("redis-server not found (%v)", err)
	}
	for try := 1; ; try++ {
		port := FreePort(t)
		p := Start(t, bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", t.TempDir(), "--daemonize", "no")
		url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
		if err := WaitRedis(url, p.exited, 10*time.Second); err == nil {
			return url
		} else if try == 3 { // a port found free can be taken before redis-server binds it
			t.Fatalf("redis-server did not start: %v\n%s", err, p.Stdout)
		}
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// WaitRedis waits up to timeout for the Redis at url to answer PING, or
// for exited (its process's) to close.
func WaitRedis(url string, exited <-chan struct{}, timeout time.Duration) error {
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
		case <-exited:
			return errors.New("redis-server exited")
		case <-deadline.C:
			return fmt.Errorf("no answer to PING within %s: %v", timeout, err)
		}
	}
}
