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
// reads/task counts the requests that woke Redis.
const header = "scenario                             tasks  tasks/s    p50ms  p95ms  p99ms  maxms  rtt/task cmds/task redis-us/task cpu-us/task bytes/task  other% reads/task"

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
	line := fmt.Sprintf("%-34s %7d %8s %7s %6s %6s %6s %9.3f %9s %13s %11.1f %10s %8s %10s",
		r.Scenario, r.Tasks, opt(r.TasksPerSec, "%.0f"), opt(r.P50ms, "%.2f"), opt(r.P95ms, "%.2f"), opt(r.P99ms, "%.2f"),
		opt(r.MaxMs, "%.2f"), r.RoundTrips, opt(r.Commands, "%.2f"), opt(r.RedisCPUus, "%.1f"), r.WorkerCPUus,
		opt(r.BytesPerTask, "%.0f"), other, opt(r.ReadsPerTask, "%.2f"))
	switch {
	case r.Waiters != nil:
		line += "\n" + r.Waiters.format()
	case r.UsedPerTask != 0:
		line += fmt.Sprintf("\n  redis used_memory %+.0f B/task, the %d B payload included", r.UsedPerTask, r.PayloadBytes)
	}
	return line
}
