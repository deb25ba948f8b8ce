package main

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// snapshot is the state of Redis and of this process at one instant; the
// difference of two snapshots is the cost of what ran between them.
type snapshot struct {
	at       time.Time
	redisCPU time.Duration    // used_cpu_user + used_cpu_sys of the whole server
	calls    map[string]int64 // commandstats calls by command; INFO itself is left out
	memory   int64            // used_memory
	conns    int64            // total_connections_received
	reads    int64            // total_reads_processed: reads of client requests, INFO's own included
	procCPU  time.Duration    // user + system CPU of this process
	childCPU time.Duration    // user + system CPU of the worker process (steady rows); 0 without one
	busyCPU  time.Duration    // busy CPU of the machine (machineCPU); -1 if unknown
	trips    int64            // from the tripCounter

	// Script calls and dials of asynqbench: done before the INFO, started
	// after it.
	scriptsDone, scriptsStarted int64
	dialsDone, dialsStarted     int64
}

// snapshot reads INFO cpu, commandstats, memory and stats, this process's
// rusage, and tc's counts (tc may be nil).
func (b *bench) snapshot(ctx context.Context, tc *tripCounter) (snapshot, error) {
	if tc == nil {
		tc = &tripCounter{}
	}
	scriptsDone, dialsDone := tc.scripts.done.Load(), dials.done.Load()
	info, err := b.mon.Info(ctx, "cpu", "commandstats", "memory", "stats").Result()
	if err != nil {
		return snapshot{}, fmt.Errorf("info: %w", err)
	}
	s := parseInfo(info)
	s.scriptsDone, s.scriptsStarted = scriptsDone, tc.scripts.started.Load()
	s.dialsDone, s.dialsStarted = dialsDone, dials.started.Load()
	s.procCPU, s.busyCPU = processCPU(), machineCPU()
	s.trips = tc.trips.Load()
	s.at = time.Now()
	return s, nil
}

// parseInfo reads the fields of INFO that the benchmark uses.
func parseInfo(info string) snapshot {
	s := snapshot{calls: map[string]int64{}}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		switch {
		case k == "used_cpu_user" || k == "used_cpu_sys":
			f, _ := strconv.ParseFloat(v, 64)
			s.redisCPU += time.Duration(f * float64(time.Second))
		case k == "used_memory":
			s.memory, _ = strconv.ParseInt(v, 10, 64)
		case k == "total_connections_received":
			s.conns, _ = strconv.ParseInt(v, 10, 64)
		case k == "total_reads_processed":
			s.reads, _ = strconv.ParseInt(v, 10, 64)
		case strings.HasPrefix(k, "cmdstat_") && k != "cmdstat_info":
			s.calls[strings.TrimPrefix(k, "cmdstat_")] = statCalls(v)
		}
	}
	return s
}

// statCalls returns the calls= field of one commandstats line.
func statCalls(v string) int64 {
	for _, f := range strings.Split(v, ",") {
		if n, ok := strings.CutPrefix(f, "calls="); ok {
			c, _ := strconv.ParseInt(n, 10, 64)
			return c
		}
	}
	return 0
}

// processCPU is the user + system CPU this process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cost is what ran between two snapshots.
type cost struct {
	elapsed  time.Duration
	redisCPU time.Duration
	calls    int64 // every command Redis executed, those inside scripts included
	evalsha  int64
	eval     int64
	procCPU  time.Duration
	childCPU time.Duration // the worker process's CPU (steady rows)
	reads    int64         // client requests Redis read, from every process
	trips    int64
	memory   int64 // used_memory delta
	foreign  foreign
}

// diff returns the cost between a and b, less own commands the benchmark
// itself sent in between (its completion polls). Each own command is also
// one read, and so is the INFO that took b: Redis counts a read before it
// runs the command.
func diff(a, b snapshot, own int64) cost {
	c := cost{
		elapsed:  b.at.Sub(a.at),
		redisCPU: b.redisCPU - a.redisCPU,
		evalsha:  b.calls["evalsha"] - a.calls["evalsha"],
		eval:     b.calls["eval"] - a.calls["eval"],
		procCPU:  b.procCPU - a.procCPU,
		childCPU: b.childCPU - a.childCPU,
		reads:    b.reads - a.reads - own - 1,
		trips:    b.trips - a.trips,
		memory:   b.memory - a.memory,
		calls:    -own,
		foreign:  foreignBetween(a, b),
	}
	for name, n := range b.calls {
		c.calls += n - a.calls[name]
	}
	return c
}
