package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// foreign is evidence that something else used the Redis server or the
// machine during a measurement. INFO is server-wide and both asynq and Redis
// need the CPUs, so either inflates the figures.
type foreign struct {
	Scripts       int64   `json:"scripts"`           // EVALSHA/EVAL calls asynqbench did not send
	Connections   int64   `json:"connections"`       // connections asynqbench did not open
	ActiveClients int     `json:"active_clients"`    // clients not named asynqbench active in the window
	OtherCPU      float64 `json:"other_cpu_percent"` // machine CPU used by neither asynqbench (worker included) nor Redis, % of one CPU
	Disturbed     bool    `json:"disturbed"`         // any foreign Redis activity, or OtherCPU above --max-other-cpu
}

// Clean reports whether the measurement was undisturbed.
func (f foreign) Clean() bool { return !f.Disturbed }

// judge sets Disturbed: any foreign Redis activity counts, other processes
// only above maxCPU (% of one CPU), since an idle machine is never at zero
// and loopback traffic costs the kernel time charged to neither process.
func (f foreign) judge(maxCPU float64) foreign {
	f.Disturbed = f.Scripts != 0 || f.Connections != 0 || f.ActiveClients != 0 || f.OtherCPU > maxCPU
	return f
}

// plus combines the evidence of two measurements.
func (f foreign) plus(g foreign) foreign {
	return foreign{f.Scripts + g.Scripts, f.Connections + g.Connections, f.ActiveClients + g.ActiveClients,
		max(f.OtherCPU, g.OtherCPU), f.Disturbed || g.Disturbed}
}

func (f foreign) String() string {
	if f.Clean() {
		return fmt.Sprintf("none (cpu %.0f%%)", f.OtherCPU)
	}
	return fmt.Sprintf("%d scripts, %d conns, %d clients, cpu %.0f%%", f.Scripts, f.Connections, f.ActiveClients, f.OtherCPU)
}

// foreignBetween counts what others did between two snapshots. At most
// b.started - a.done of asynqbench's own scripts and dials can fall between
// the two INFOs, whatever was in flight; anything beyond is someone else's.
func foreignBetween(a, b snapshot) foreign {
	f := foreign{
		Scripts:     max(0, (b.calls["evalsha"]+b.calls["eval"])-(a.calls["evalsha"]+a.calls["eval"])-(b.scriptsStarted-a.scriptsDone)),
		Connections: max(0, (b.conns-a.conns)-(b.dialsStarted-a.dialsDone)),
	}
	if a.busyCPU >= 0 && b.busyCPU >= 0 {
		other := (b.busyCPU - a.busyCPU) - (b.procCPU - a.procCPU) - (b.childCPU - a.childCPU) - (b.redisCPU - a.redisCPU)
		f.OtherCPU = max(0, 100*other.Seconds()/b.at.Sub(a.at).Seconds())
	}
	return f
}

// machineCPU is the busy time of all CPUs from /proc/stat (Linux; USER_HZ
// is 100 there): user, nice, system, irq, softirq and steal; or -1 where it
// cannot be read. irq and softirq count because, on a kernel without IRQ
// time accounting, a softirq tick (loopback traffic) is charged to the
// process it interrupted, in its rusage and Redis's INFO cpu, but to the
// softirq column here; without them the others' share comes out too low,
// at zero on the build machine. steal is time the host gave to other
// machines while this one had work.
func machineCPU() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return -1
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return -1
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// measured takes the closing snapshot of a measurement that began at before
// and returns its cost, with own commands left out and others' activity
// counted, including any client not named asynqbench that was active since
// before.
func (b *bench) measured(ctx context.Context, before snapshot, tc *tripCounter, own int64) (cost, error) {
	after, err := b.snapshot(ctx, tc)
	if err != nil {
		return cost{}, err
	}
	return b.measuredTo(ctx, before, after, own)
}

// measuredTo is measured with a closing snapshot the caller took.
func (b *bench) measuredTo(ctx context.Context, before, after snapshot, own int64) (cost, error) {
	c := diff(before, after, own)
	list, err := b.mon.ClientList(ctx).Result()
	if err != nil {
		return c, fmt.Errorf("client list: %w", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		f := map[string]string{}
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			f[k] = v
		}
		if idle, err := strconv.Atoi(f["idle"]); err == nil && f["name"] != clientName && float64(idle) <= c.elapsed.Seconds() {
			c.foreign.ActiveClients++
		}
	}
	c.foreign = c.foreign.judge(b.cfg.maxOtherCPU)
	return c, nil
}
