package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// memSample is this process's memory, read after a full collection so that
// the heap holds live objects only.
type memSample struct {
	heap       uint64 // runtime/metrics /memory/classes/heap/objects: live heap objects
	stacks     uint64 // /memory/classes/heap/stacks: goroutine (and thread) stacks
	runtime    uint64 // /memory/classes/total less /memory/classes/heap/released: all the Go runtime holds
	rss        uint64 // resident set size from /proc/self/statm; 0 where there is none
	goroutines int
}

func sampleMemory() memSample {
	runtime.GC()
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	metrics.Read(s)
	return memSample{
		heap:       s[0].Value.Uint64(),
		stacks:     s[1].Value.Uint64(),
		runtime:    s[2].Value.Uint64() - s[3].Value.Uint64(),
		rss:        residentBytes(),
		goroutines: runtime.NumGoroutine(),
	}
}

// residentBytes reads the resident set size on Linux, 0 elsewhere.
func residentBytes() uint64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// mib is b-a in MiB; negative when memory went down.
func mib(a, b uint64) float64 { return (float64(b) - float64(a)) / (1 << 20) }

// redisClients is what a Redis server says about its connections.
type redisClients struct {
	connected   int // INFO clients connected_clients; -1 unknown
	named       int // CLIENT LIST entries with the name asked for; -1 when CLIENT LIST fails (miniredis)
	subscribed  int // of those, the ones in pub/sub mode
	subscribers int // PUBSUB NUMSUB of the channel asked for; -1 unknown
}

// countClients counts rdb's server's connections, those named name, and the
// subscribers of the channels under prefix.
func countClients(ctx context.Context, rdb redis.UniversalClient, name, prefix string) redisClients {
	c := redisClients{connected: connectedClients(ctx, rdb), named: -1, subscribed: -1, subscribers: subscribers(ctx, rdb, prefix)}
	if list, err := rdb.ClientList(ctx).Result(); err == nil {
		c.named, c.subscribed = countNamed(list, name)
	}
	return c
}

// subscribers counts the subscriptions to the channels under prefix (the
// channel of finished tasks is the only one), or -1 when they cannot be
// counted.
func subscribers(ctx context.Context, rdb redis.UniversalClient, prefix string) int {
	channels, err := rdb.PubSubChannels(ctx, prefix+":*").Result()
	if err != nil {
		return -1
	}
	n := 0
	if len(channels) > 0 {
		subs, err := rdb.PubSubNumSub(ctx, channels...).Result()
		if err != nil {
			return -1
		}
		for _, c := range subs {
			n += int(c)
		}
	}
	return n
}

func connectedClients(ctx context.Context, rdb redis.UniversalClient) int {
	info, err := rdb.Info(ctx, "clients").Result()
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_clients:"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
	}
	return -1
}

// countNamed counts the lines of CLIENT LIST output whose name is name, and
// those of them subscribed to a channel or pattern.
func countNamed(list, name string) (named, subscribed int) {
	for _, line := range strings.Split(list, "\n") {
		fields := map[string]string{}
		for _, f := range strings.Fields(line) {
			if k, v, ok := strings.Cut(f, "="); ok {
				fields[k] = v
			}
		}
		if fields["name"] != name {
			continue
		}
		named++
		subs := 0
		for _, k := range []string{"sub", "psub", "ssub"} {
			n, _ := strconv.Atoi(fields[k])
			subs += n
		}
		if subs > 0 {
			subscribed++
		}
	}
	return named, subscribed
}

// raiseFileLimit lifts the soft limit on open files to the hard one when
// need is over it, and reports an error when even the hard limit is below
// need. (Go raises the soft limit at start-up on Linux already; this also
// covers systems where it does not, and names the problem clearly.)
func raiseFileLimit(need int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read the open-file limit: %w", err)
	}
	if lim.Cur >= uint64(need) {
		return nil
	}
	if lim.Max < uint64(need) {
		return fmt.Errorf("%d open files needed but the hard limit (ulimit -Hn) is %d: raise it or run fewer waiters", need, lim.Max)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise the open-file limit to %d: %w", lim.Max, err)
	}
	return nil
}
