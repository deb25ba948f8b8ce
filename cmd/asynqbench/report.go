package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// report is everything one run measured; it is printed as tables and
// written as JSON.
type report struct {
	Machine     machine      `json:"machine"`
	Background  []background `json:"redis_background"`
	Enqueue     []row        `json:"enqueue,omitempty"`
	Drain       []row        `json:"drain,omitempty"`
	Lifecycle   *row         `json:"lifecycle,omitempty"`
	DrainSizes  []row        `json:"drain_by_payload,omitempty"`
	Latency     []latencyRow `json:"latency,omitempty"`
	Memory      *memoryRow   `json:"memory,omitempty"`
	Steady      []steadyRow  `json:"steady,omitempty"`
	MemorySizes []sizeRow    `json:"memory_by_payload,omitempty"`
	Notes       []string     `json:"notes"`
}

type machine struct {
	NumCPU       int    `json:"num_cpu"`
	GOOS         string `json:"goos"`
	GOARCH       string `json:"goarch"`
	Go           string `json:"go"`
	Redis        string `json:"redis"`
	RedisVersion string `json:"redis_version"`
	Asynq        string `json:"asynq"`
	Tasks        int    `json:"tasks"`
	PayloadBytes int    `json:"payload_bytes"`
}

// background is the load other clients put on the shared server while
// asynqbench was idle.
type background struct {
	When        string  `json:"when"`
	CommandsSec float64 `json:"commands_per_sec"`
	CPUPercent  float64 `json:"cpu_percent"`
}

// row is one throughput measurement with its costs per task. GoCPU is this
// process: the producers for an enqueue, the asynq server for a drain.
type row struct {
	Phase      string  `json:"phase"`
	Tasks      int     `json:"tasks"`
	Seconds    float64 `json:"seconds"`
	PerSec     float64 `json:"tasks_per_sec"`
	GoCPU      float64 `json:"go_cpu_us_per_task"`
	RedisCPU   float64 `json:"redis_cpu_us_per_task"`
	Commands   float64 `json:"redis_commands_per_task"`
	Evalsha    float64 `json:"evalsha_per_task"`
	Eval       float64 `json:"eval_per_task"`
	RoundTrips float64 `json:"round_trips_per_task"`
	Foreign    foreign `json:"foreign_traffic"`
}

// newRow turns the cost of n tasks into per-task figures.
func newRow(phase string, n int, c cost) row {
	f := float64(n)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) / f }
	return row{
		Phase: phase, Tasks: n, Seconds: c.elapsed.Seconds(), PerSec: f / c.elapsed.Seconds(),
		GoCPU: us(c.procCPU), RedisCPU: us(c.redisCPU),
		Commands: float64(c.calls) / f, Evalsha: float64(c.evalsha) / f, Eval: float64(c.eval) / f,
		RoundTrips: float64(c.trips) / f, Foreign: c.foreign,
	}
}

// lifecycle adds the per-task costs of an enqueue and a drain: what one task
// costs from submission to completion.
func lifecycle(enq, drain row) row {
	return row{
		Phase: "lifecycle: " + enq.Phase + " + " + drain.Phase,
		GoCPU: enq.GoCPU + drain.GoCPU, RedisCPU: enq.RedisCPU + drain.RedisCPU,
		Commands: enq.Commands + drain.Commands, Evalsha: enq.Evalsha + drain.Evalsha,
		Eval: enq.Eval + drain.Eval, RoundTrips: enq.RoundTrips + drain.RoundTrips,
		Foreign: enq.Foreign.plus(drain.Foreign),
	}
}

// notes explains what the numbers include and what could not be measured.
func (b *bench) notes() []string {
	others := fmt.Sprintf("INFO cpu/commandstats/memory are server-wide and the CPUs are shared, so others inflate the figures. "+
		"\"others\" shows what was seen during each measurement: script calls and connections asynqbench did not make, "+
		"Redis clients not named asynqbench active in the window, and machine CPU used by neither asynqbench nor Redis "+
		"(%% of one CPU, from /proc/stat). \"none\" means undisturbed (no foreign Redis activity, other CPU at most %.0f%% of one CPU); "+
		"asynqbench waits for a quiet machine before each measurement (--settle) and repeats a disturbed one (--attempts).", b.cfg.maxOtherCPU)
	return []string{
		others,
		"redis commands/task count commands run inside Lua scripts plus the EVALSHA itself (INFO commandstats); INFO and the benchmark's own completion polls are left out.",
		"round trips are counted by a go-redis hook on the clients passed to asynq.NewClientFromRedisClient/NewServerFromRedisClient; asynq's pub/sub cancelation subscription bypasses hooks (one SUBSCRIBE per server start).",
		"drain go cpu is the whole process while the in-process asynq server drains (heartbeater, forwarder, janitor included); enqueue go cpu is the producers.",
		"the first enqueue queues tasks without Retention; the result drains were filled with asynq.Retention(1h), so the lifecycle row mixes the two enqueue kinds.",
		"latency is from just before Client.EnqueueContext to the handler's first line, one producer paced by the clock.",
		fmt.Sprintf("steady rows: %d producers in this process share one schedule (task i due at start + i/rate), one %d-byte task per EnqueueContext, asynq.Retention(1h); "+
			"the asynq server (Concurrency %d, its handler stores a result) runs in a worker process, a re-execution of asynqbench. "+
			"The window runs from the first submission until asynq's processed counter reaches the task count; sent/s is tasks over first submission to last enqueue's return.",
			steadyProducers, steadyPayloadBytes, steadyConcurrency),
		"steady producer cpu is this process (getrusage), worker cpu the worker process (its getrusage, read over a pipe around each INFO); " +
			"redis reads/task is the INFO stats total_reads_processed delta: reads of client requests from every process, about one per round trip; " +
			"p50..max run from just before EnqueueContext to the handler's first line (both processes read the machine's wall clock); idle is the worker's server over 2 s before the first submission.",
		fmt.Sprintf("drain result c=%d 64B/1024B: %d producers queue the tasks (unmeasured) with the memory rows' payloads, %d distinct ones taken in turn, "+
			"and asynq.Retention(1h); then measured as the storing drain at concurrency %d.", drainSizesConcurrency, memoryProducers, distinctPayloads, drainSizesConcurrency),
		fmt.Sprintf("memory rows: %d producers queue tasks (no server running) with JSON-record payloads built as runq bench builds them, exactly that size; "+
			"used_memory is read before the producers' client connects and after it disconnects, so connection buffers are left out.", memoryProducers),
	}
}

// print writes the tables.
func (r *report) print(out io.Writer) {
	m := r.Machine
	fmt.Fprintf(out, "machine: %d CPU, %s/%s, %s; Redis %s at %s; asynq %s; %d tasks of %d-byte payload\n",
		m.NumCPU, m.GOOS, m.GOARCH, m.Go, m.RedisVersion, m.Redis, m.Asynq, m.Tasks, m.PayloadBytes)
	for _, bg := range r.Background {
		fmt.Fprintf(out, "redis background %s: %.0f commands/s, %.1f%% CPU\n", bg.When, bg.CommandsSec, bg.CPUPercent)
	}
	if r.Lifecycle != nil {
		fmt.Fprintln(out)
		printRows(out, append(append(append([]row{}, r.Enqueue...), r.Drain...), *r.Lifecycle))
	}
	if len(r.DrainSizes) > 0 {
		fmt.Fprintln(out)
		printRows(out, r.DrainSizes)
	}
	if len(r.Latency) > 0 {
		fmt.Fprintln(out)
		r.printLatency(out)
	}
	if mem := r.Memory; mem != nil {
		fmt.Fprintf(out, "\nredis memory per queued task: %.0f B (used_memory +%d B over %d tasks), %.0f B beyond the %d-byte payload; MEMORY USAGE sample: %.0f B (%d task hashes + pending list share %.1f B)\n",
			mem.PerTask, mem.UsedMemoryDelta, mem.Tasks, mem.BeyondPayload, mem.PayloadBytes, mem.SampledPerTask, mem.SampledTaskKeys, mem.SampledListPerTask)
	}
	if len(r.Steady) > 0 {
		fmt.Fprintln(out)
		r.printSteady(out)
	}
	if len(r.MemorySizes) > 0 {
		fmt.Fprintln(out)
		r.printMemorySizes(out)
	}
	fmt.Fprintln(out, "\nnotes:")
	for _, n := range r.Notes {
		fmt.Fprintln(out, "- "+n)
	}
}

// printRows writes a throughput table; a lifecycle row has no time of its
// own, so its time columns show "-".
func printRows(out io.Writer, rows []row) {
	pw := max(len("phase"), width(rows, func(x row) string { return x.Phase }))
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "%-*s\ttasks\tseconds\ttasks/s\tgo cpu µs/task\tredis cpu µs/task\tredis cmds/task\tevalsha/task\teval/task\tround trips/task\tothers\t\n", pw, "phase")
	for _, x := range rows {
		timing := fmt.Sprintf("%d\t%.2f\t%.0f", x.Tasks, x.Seconds, x.PerSec)
		if x.Tasks == 0 {
			timing = "-\t-\t-"
		}
		fmt.Fprintf(w, "%-*s\t%s\t%.1f\t%.1f\t%.2f\t%.2f\t%.4f\t%.2f\t%s\t\n",
			pw, x.Phase, timing, x.GoCPU, x.RedisCPU, x.Commands, x.Evalsha, x.Eval, x.RoundTrips, x.Foreign)
	}
	w.Flush()
}

// width is the longest label among xs, for left-aligned first columns.
func width[T any](xs []T, label func(T) string) int {
	n := 0
	for _, x := range xs {
		n = max(n, len(label(x)))
	}
	return n
}

// printLatency writes the latency table.
func (r *report) printLatency(out io.Writer) {
	const head = "latency (enqueue to handler start)"
	lw := max(len(head), width(r.Latency, func(l latencyRow) string { return l.Settings }))
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "%-*s\ttasks\trate/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\tidle redis cmds/s\tidle redis cpu %%\tothers\t\n", lw, head)
	for _, l := range r.Latency {
		fmt.Fprintf(w, "%-*s\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f\t%.1f\t%s\t\n",
			lw, l.Settings, l.Tasks, l.Rate, l.P50, l.P95, l.P99, l.Max, l.IdleCommandsSec, l.IdleCPUPercent, l.Foreign)
	}
	w.Flush()
}

// printSteady writes the steady-rate table.
func (r *report) printSteady(out io.Writer) {
	pw := max(len("phase"), width(r.Steady, func(x steadyRow) string { return x.Phase }))
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "%-*s\ttasks\tsent/s\tseconds\tproducer cpu µs/task\tworker cpu µs/task\tredis cpu µs/task\tredis cmds/task\tredis reads/task\t"+
		"p50 ms\tp95 ms\tp99 ms\tmax ms\tidle redis cmds/s\tidle redis cpu %%\tothers\t\n", pw, "phase")
	for _, x := range r.Steady {
		fmt.Fprintf(w, "%-*s\t%d\t%.0f\t%.2f\t%.1f\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f\t%.1f\t%s\t\n",
			pw, x.Phase, x.Tasks, x.SentRate, x.Seconds, x.ProducerCPU, x.WorkerCPU, x.RedisCPU, x.Commands, x.Reads,
			x.P50, x.P95, x.P99, x.Max, x.IdleCommandsSec, x.IdleCPUPercent, x.Foreign)
	}
	w.Flush()
}

// printMemorySizes writes the memory rows.
func (r *report) printMemorySizes(out io.Writer) {
	pw := max(len("phase"), width(r.MemorySizes, func(x sizeRow) string { return x.Phase }))
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "%-*s\ttasks\tused_memory delta B\tB/task\tB/task beyond the payload\tothers\t\n", pw, "phase")
	for _, x := range r.MemorySizes {
		fmt.Fprintf(w, "%-*s\t%d\t%d\t%.0f\t%.0f\t%s\t\n", pw, x.Phase, x.Tasks, x.UsedMemoryDelta, x.PerTask, x.BeyondPayload, x.Foreign)
	}
	w.Flush()
}
