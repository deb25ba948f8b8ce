package bench

import (
	"context"
	"math"
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
	memory   int64         // used_memory
	ok       bool          // false when the server has no such INFO (miniredis)
}

func sampleServer(ctx context.Context, rdb redis.UniversalClient) serverSample {
	info, err := rdb.Info(ctx, "cpu", "commandstats", "memory").Result()
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

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU is the user, nice and system time of all CPUs so far, from
// /proc/stat (Linux, where USER_HZ is 100), or -1 where it cannot be read.
func machineCPU() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 4 || f[0] != "cpu" {
		return -1
	}
	var ticks int64
	for _, v := range f[1:4] {
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// cost is what one measured phase used.
type cost struct {
	start      time.Time
	rtt0       int64
	srv0       serverSample
	cpu0       time.Duration
	machine0   time.Duration
	rtt        *roundTrips
	rdb        redis.UniversalClient
	elapsed    time.Duration
	roundTrips int64
	commands   int64
	redisCPU   time.Duration
	workerCPU  time.Duration
	otherCPU   float64 // % of one CPU used by neither this process nor Redis; -1 unknown
	measured   bool
}

func startCost(ctx context.Context, rdb redis.UniversalClient, rtt *roundTrips) *cost {
	c := &cost{rtt: rtt, rdb: rdb, srv0: sampleServer(ctx, rdb), cpu0: processCPU(), machine0: machineCPU()}
	c.rtt0 = rtt.n.Load()
	c.start = time.Now()
	return c
}

func (c *cost) stop(ctx context.Context) {
	c.elapsed = time.Since(c.start)
	c.workerCPU = processCPU() - c.cpu0
	machine := machineCPU()
	c.roundTrips = c.rtt.n.Load() - c.rtt0
	srv := sampleServer(ctx, c.rdb)
	c.otherCPU = -1
	if srv.ok && c.srv0.ok {
		c.measured = true
		c.redisCPU = srv.cpu - c.srv0.cpu
		c.commands = srv.commands - c.srv0.commands - 1 // the INFO call itself
		if machine >= 0 && c.machine0 >= 0 {
			other := (machine - c.machine0) - c.workerCPU - c.redisCPU
			c.otherCPU = max(0, 100*other.Seconds()/c.elapsed.Seconds())
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
