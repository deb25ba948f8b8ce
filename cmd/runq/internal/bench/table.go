package bench

import (
	"fmt"
	"strings"
)

// Table renders the report for a terminal.
func (rep *Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "runq bench: %s; %s\n", rep.Redis, rep.Machine)
	if rep.Note != "" {
		fmt.Fprintf(&b, "NOTE: %s\n", rep.Note)
	}
	fmt.Fprintln(&b, header)
	for _, row := range rep.Rows {
		fmt.Fprintln(&b, formatRow(row))
	}
	return b.String()
}

// header names the table's columns. other% is the CPU (% of one) that
// other processes used during the row, with the number of measurements in
// brackets when a disturbed one was made again (Config.MaxOtherCPU).
// cpu-us/task is this process's CPU, but in steady rows the worker child's;
// api-us/task, in steady rows only, is the `runq serve` child's CPU in HTTP
// rows and this process's (the Go client's) in Go-client rows, as the line
// under each says. reads/task counts the requests that woke Redis.
const header = "scenario                                         tasks  tasks/s    p50ms  p95ms  p99ms  maxms  rtt/task cmds/task redis-us/task cpu-us/task bytes/task  other% api-us/task reads/task"

func formatRow(r Row) string {
	opt := func(v float64, format string) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf(format, v)
	}
	other := "-"
	if r.OtherCPU >= 0 && !r.Life && r.Waiters == nil {
		other = fmt.Sprintf("%.0f", r.OtherCPU)
		if r.Attempts > 1 {
			other += fmt.Sprintf(" (%d)", r.Attempts)
		}
	}
	api := r.APICPUus
	if r.Steady != nil && r.Steady.Path == pathGo {
		api = r.ClientCPUus
	}
	line := fmt.Sprintf("%-46s %7d %8s %7s %6s %6s %6s %9.3f %9s %13s %11.1f %10s %8s %11s %10s",
		r.Scenario, r.Tasks, opt(r.TasksPerSec, "%.0f"), opt(r.P50ms, "%.2f"), opt(r.P95ms, "%.2f"), opt(r.P99ms, "%.2f"),
		opt(r.MaxMs, "%.2f"), r.RoundTrips, opt(r.Commands, "%.2f"), opt(r.RedisCPUus, "%.1f"), r.WorkerCPUus,
		opt(r.BytesPerTask, "%.0f"), other, opt(api, "%.1f"), opt(r.ReadsPerTask, "%.2f"))
	switch {
	case r.Waiters != nil:
		line += "\n" + r.Waiters.format()
	case r.Steady != nil:
		line += "\n" + steadyLine(r)
	case r.UsedPerTask != 0:
		line += fmt.Sprintf("\n  redis used_memory %+.0f B/task (clients' buffers left out), the %d B payload included", r.UsedPerTask, r.PayloadBytes)
	}
	return line
}

// steadyLine renders the line under a steady row: whose CPU its columns
// show, the idle worker's cost, and the pace achieved.
func steadyLine(r Row) string {
	if r.Steady.Path == pathFloor {
		return fmt.Sprintf("  %s: a bare net/http server making one RPUSH per request, on serve's Redis pool: its CPU %.1f us/request, "+
			"Redis %.1f us/request; this process's HTTP client %.1f us/request; %d producers submitted %d requests in %.2fs",
			r.Steady.Path, r.APICPUus, r.RedisCPUus, r.ClientCPUus, r.Steady.Producers, r.Tasks, r.Steady.SubmitSeconds)
	}
	who := fmt.Sprintf("client CPU (this process, submitting) %.1f us/task", r.ClientCPUus)
	if r.Steady.Path == pathHTTP {
		who = fmt.Sprintf("API CPU (runq serve child) %.1f us/task, this process's HTTP client %.1f us/task", r.APICPUus, r.ClientCPUus)
	}
	s := r.Steady
	return fmt.Sprintf("  %s: %s; worker child %.1f us/task; idle worker before: %.1f redis cmds/s, redis CPU %.2f%%; "+
		"%d producers submitted %d tasks in %.2fs, last succeeded at %.2fs",
		s.Path, who, r.WorkerCPUus, s.IdleCommandsPerSec, s.IdleRedisCPU, s.Producers, r.Tasks, s.SubmitSeconds, r.Seconds)
}
