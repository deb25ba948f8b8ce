package bench

import (
	"context"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// roundTrips counts the round trips a client makes: one per command sent
// alone, one per pipeline.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

// serverSample is what INFO says about the server's work so far.
type serverSample struct {
	cpu      time.Duration // used_cpu_user + used_cpu_sys
	commands int64         // calls over all commands, scripts' inner calls included
	memory   int64         // used_memory less the normal clients' buffers (clientsMemory)
	reads    int64         // total_reads_processed: read events, each a request that woke Redis
	ok       bool          // false when the server has no such INFO (miniredis)
}

func sampleServer(ctx context.Context, rdb redis.UniversalClient) serverSample {
	clients := clientsMemory(ctx, rdb)
	info, err := rdb.Info(ctx, "cpu", "commandstats", "memory", "stats").Result()
	if err != nil {
		return serverSample{}
	}
	var s serverSample
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		k, v, found := strings.Cut(line, ":")
		if !found {
			continue
		}
		switch {
		case k == "used_cpu_user" || k == "used_cpu_sys":
			f, _ := strconv.ParseFloat(v, 64)
			s.cpu += time.Duration(f * float64(time.Second))
			s.ok = true
		case k == "used_memory":
			s.memory, _ = strconv.ParseInt(v, 10, 64)
			s.memory -= clients
		case k == "total_reads_processed":
			s.reads, _ = strconv.ParseInt(v, 10, 64)
		case strings.HasPrefix(k, "cmdstat_"):
			// cmdstat_get:calls=1,usec=2,...
			if calls, _, ok := strings.Cut(strings.TrimPrefix(v, "calls="), ","); ok {
				n, _ := strconv.ParseInt(calls, 10, 64)
				s.commands += n
			}
		}
	}
	return s
}

// clientsMemory returns MEMORY STATS' clients.normal: the buffers and
// structures of the server's normal clients. They are not the tasks': they
// grow with the connections a row keeps busy (the query buffers of a memory
// row's 16 producers held 647 KB, 32 B per task of 20,000 at 64 B) and
// shrink when Redis trims idle buffers, so a row's memory leaves them out.
// 0 when the server has no MEMORY STATS (miniredis). Called before INFO,
// so that each sample's INFO counts the call.
func clientsMemory(ctx context.Context, rdb redis.UniversalClient) int64 {
	n, _ := memoryStat(ctx, rdb, "clients.normal")
	return n
}

// memoryStat returns the integer field name of MEMORY STATS; false when
// the server has no MEMORY STATS (miniredis).
func memoryStat(ctx context.Context, rdb redis.UniversalClient, name string) (int64, bool) {
	v, err := rdb.Do(ctx, "MEMORY", "STATS").Result()
	if err != nil {
		return 0, false
	}
	switch st := v.(type) {
	case map[any]any: // RESP3
		n, _ := st[name].(int64)
		return n, true
	case []any: // RESP2: name, value, ...
		for i := 0; i+1 < len(st); i += 2 {
			if st[i] == name {
				n, _ := st[i+1].(int64)
				return n, true
			}
		}
	}
	return 0, true
}

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pidCPU is the CPU time process pid has used, from /proc/<pid>/stat
// (Linux), or -1 where it cannot be read.
func pidCPU(pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	cpu, ok := procPidStatCPU(string(data))
	if !ok {
		return -1
	}
	return cpu
}

// procPidStatCPU reads utime plus stime, fields 14 and 15 in ticks of
// USER_HZ (100 on Linux), from the text of /proc/<pid>/stat. The command
// name, field 2, is in parentheses and may hold spaces or parentheses, so
// the fields are counted from the last ')'.
func procPidStatCPU(stat string) (time.Duration, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:]) // from field 3, state
	if len(f) < 13 {
		return 0, false
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, true
}

// machineCPU is the busy time of all CPUs so far, from /proc/stat (Linux),
// or -1 where it cannot be read.
func machineCPU() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	busy, ok := procStatBusy(string(data))
	if !ok {
		return -1
	}
	return busy
}

// procStatBusy reads the busy time of all CPUs from the text of /proc/stat:
// user, nice, system, irq, softirq and steal (USER_HZ is 100 on Linux).
// irq and softirq count because, on a kernel without IRQ time accounting,
// a tick spent in a softirq (loopback traffic, here) is charged to the
// process it interrupted, in its rusage and Redis's INFO cpu, but to the
// softirq column here; leaving them out would make the others' share come
// out too low, at zero on the build machine. steal is time the host gave
// to other machines while this one had work: a disturbance too.
func procStatBusy(stat string) (time.Duration, bool) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, false
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, true
}

// otherShare is the CPU, in % of one CPU over elapsed, that the machine
// was busy beyond this process's own and, when it runs here, Redis's (a
// Redis on another machine uses none of this one's). Rounding to ticks can
// make it a little negative; it is then 0.
func otherShare(machine, own, redis, elapsed time.Duration, redisHere bool) float64 {
	other := machine - own
	if redisHere {
		other -= redis
	}
	return max(0, 100*other.Seconds()/elapsed.Seconds())
}

// redisHere reports whether rdb's Redis runs on this machine: a unix
// socket, or a loopback address.
func redisHere(rdb redis.UniversalClient) bool {
	c, ok := rdb.(*redis.Client)
	if !ok {
		return false
	}
	opt := c.Options()
	if opt.Network == "unix" {
		return true
	}
	host, _, err := net.SplitHostPort(opt.Addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// cost is what one measured phase used.
type cost struct {
	start      time.Time
	rtt0       int64
	srv0       serverSample
	cpu0       time.Duration
	machine0   time.Duration
	pids       []int           // child processes whose CPU counts too
	pid0       []time.Duration // their CPU at start; -1 unknown
	rtt        *roundTrips
	rdb        redis.UniversalClient
	elapsed    time.Duration
	roundTrips int64
	commands   int64
	reads      int64 // Redis read events, from every client
	redisCPU   time.Duration
	ownCPU     time.Duration   // this process's
	childCPU   []time.Duration // per pid; -1 unknown
	otherCPU   float64         // % of one CPU used by neither these processes nor Redis; -1 unknown
	measured   bool
}

// startCost starts measuring a phase on rdb, including the CPU of the
// child processes pids (which are not others, for the other% column).
func startCost(ctx context.Context, rdb redis.UniversalClient, rtt *roundTrips, pids ...int) *cost {
	c := &cost{rtt: rtt, rdb: rdb, srv0: sampleServer(ctx, rdb), cpu0: processCPU(), machine0: machineCPU(), pids: pids}
	for _, pid := range pids {
		c.pid0 = append(c.pid0, pidCPU(pid))
	}
	c.rtt0 = rtt.n.Load()
	c.start = time.Now()
	return c
}

func (c *cost) stop(ctx context.Context) {
	c.elapsed = time.Since(c.start)
	c.ownCPU = processCPU() - c.cpu0
	own, known := c.ownCPU, true
	for i, pid := range c.pids {
		cpu := pidCPU(pid)
		if cpu < 0 || c.pid0[i] < 0 {
			c.childCPU, known = append(c.childCPU, -1), false
			continue
		}
		c.childCPU = append(c.childCPU, cpu-c.pid0[i])
		own += cpu - c.pid0[i]
	}
	machine := machineCPU()
	c.roundTrips = c.rtt.n.Load() - c.rtt0
	srv := sampleServer(ctx, c.rdb)
	c.otherCPU = -1
	if srv.ok && c.srv0.ok {
		c.measured = true
		c.redisCPU = srv.cpu - c.srv0.cpu
		c.commands = srv.commands - c.srv0.commands - 1 // the INFO call itself
		c.reads = srv.reads - c.srv0.reads - 1
		if machine >= 0 && c.machine0 >= 0 && known {
			c.otherCPU = otherShare(machine-c.machine0, own, c.redisCPU, c.elapsed, redisHere(c.rdb))
		}
	}
}

// percentileMs is the p-th quantile (0 to 1) of sorted, in milliseconds; 0
// for none.
func percentileMs(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(len(sorted)-1, int(math.Floor(p*float64(len(sorted)))))
	return float64(sorted[i].Microseconds()) / 1000
}
