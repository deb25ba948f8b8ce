package outages

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
)

// RedisBinary returns the path of redis-server. When it is missing the test
// is skipped, or fails if CI=true or RUNQ_REQUIRE_REDIS=1.
func RedisBinary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err == nil {
		return bin
	}
	if redistest.Required() {
		t.Fatalf("redis-server is not on PATH (%v), and CI=true or RUNQ_REQUIRE_REDIS=1 requires it", err)
	}
	t.Skip("redis-server is not on PATH: the outage tests need a real Redis (apt-get install redis-server)")
	return ""
}

// RedisServer is a redis-server process of the test's own, on a loopback
// port and in a temporary directory, which Kill and Start can stop and
// start again on the same port and data directory.
type RedisServer struct {
	Bin  string
	Dir  string // --dir: the AOF and the log live here
	Port int
	Args []string // extra configuration, such as "--appendonly", "yes"

	proc *exec.Cmd
	done chan struct{} // closed when proc has exited
}

// StartRedis starts a redis-server with args on a free loopback port in a
// new temporary directory, waits until it answers PING, and stops it (by
// its PID) at cleanup.
func StartRedis(t testing.TB, args ...string) *RedisServer {
	t.Helper()
	s := &RedisServer{Bin: RedisBinary(t), Dir: t.TempDir(), Args: args}
	var err error
	for range 3 { // a free port can be taken between probe and bind
		if s.Port, err = FreePort(); err != nil {
			t.Fatal(err)
		}
		if err = s.Start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("redis-server: %v\nlog:\n%s", err, s.Log())
	}
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("redis-server log (%s):\n%s", s.Dir, tail(s.Log(), 30))
		}
	})
	return s
}

// Addr is the server's host:port.
func (s *RedisServer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// URL is the server's redis:// URL, database 0.
func (s *RedisServer) URL() string { return "redis://" + s.Addr() + "/0" }

// Start starts the process and waits up to 15s for it to answer PING (a
// server loading its AOF answers LOADING until it is done) as itself: the
// answer must come from this process, not from another that took the port.
func (s *RedisServer) Start() error {
	args := append([]string{
		"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--dir", s.Dir,
		"--daemonize", "no", "--logfile", "redis.log", "--save", "",
	}, s.Args...)
	cmd := exec.Command(s.Bin, args...)
	if err := cmd.Start(); err != nil {
		return err
	}
	s.proc, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(s.done)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("exited at start (%v)", cmd.ProcessState)
		default:
		}
		if pid, err := Ping(s.Addr()); err == nil {
			if pid != cmd.Process.Pid {
				s.Kill()
				return fmt.Errorf("port %d answered by process %d, not by ours (%d)", s.Port, pid, cmd.Process.Pid)
			}
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Kill()
	return errors.New("no PONG within 15s")
}

// Kill stops the process with SIGKILL, by its PID, and waits for it to
// exit. It does nothing if the server is not running.
func (s *RedisServer) Kill() {
	if s.proc == nil {
		return
	}
	select {
	case <-s.done:
	default:
		_ = s.proc.Process.Kill()
		<-s.done
	}
	s.proc = nil
}

// Log returns the server's log file.
func (s *RedisServer) Log() string {
	raw, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	return string(raw)
}

// Client returns a go-redis client of the server (not through any proxy),
// closed at cleanup.
func (s *RedisServer) Client(t testing.TB, poolSize int) *redis.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rdb, err := broker.Open(ctx, s.URL(), poolSize)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// Ping sends PING and INFO server on a new connection, waits up to a
// second for +PONG, and returns the server's process_id; LOADING and any
// other answer are errors.
func Ping(addr string) (pid int, err error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")); err != nil {
		return 0, err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return 0, fmt.Errorf("PING: %q", strings.TrimSpace(line))
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, fmt.Errorf("INFO server: no process_id: %v", err)
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			return strconv.Atoi(v)
		}
	}
}

// FreePort returns a loopback TCP port that was free a moment ago, chosen
// at random below the kernel's ephemeral range (32768 and up on Linux): a
// port from that range may be taken as the source port of any outgoing
// connection while Redis is down, and the restart on it would then fail;
// and a client redialling it could connect to itself.
func FreePort() (int, error) {
	for range 100 {
		port := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			_ = ln.Close()
			return port, nil
		}
	}
	return 0, errors.New("no free loopback port in 20000-31999 after 100 tries")
}

// InfoField returns one field of INFO section, such as
// InfoField(ctx, rdb, "clients", "connected_clients").
func InfoField(ctx context.Context, rdb *redis.Client, section, field string) (string, error) {
	info, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("INFO %s has no %s", section, field)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
