package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/embedded"
	"github.com/runq/runq/cmd/internal/cli"
	"github.com/runq/runq/cmd/runq/internal/bench"
)

const benchUsage = `Usage: %[1]s bench [flags]

Measures runq on the Redis given (or an embedded one, whose figures are
not representative): enqueue throughput (1 and 16 producers, and batches
of 1,000), drain throughput (concurrency 10/50/100, no-op and storing a
result; and, as the group drainsizes, concurrency 50 storing a result
with 64 B and 1 KiB payloads; as the group priorities, three queues in
strict and in weighted order), latency at fixed rates, how late delayed
tasks start ("due -> start": --due-tasks with run_at spread over
--due-over, to one pool and to four racing; start less run_at), Redis
round trips, commands and CPU per task, process CPU per task, Redis memory per
queued task at payloads of 64 B, 1 KiB and 16 KiB, and what --waiters
long polls parked at once cost the API server (memory, goroutines, Redis
connections) and how fast they wake (its HTTP clients run in a child
process of this executable). "life" rows add an enqueue row to the drain
at concurrency 50 storing a result: a task's whole cost. "steady" rows
submit at each of --steady-rates for --steady-for, one task per call
from 8 goroutines, through the Go client in this process and over HTTP
to a "serve" child, to a worker (concurrency 50, storing a result) in a
child process of this executable: per task, the CPU of Redis, the
worker, the API (or the Go client), Redis commands and read events, the
delay from submission to start, and the idle worker's cost; an "HTTP
floor" row sends the same requests to a bare net/http child that makes
one Redis call (RPUSH) per request: what any HTTP front costs here. A
throughput, latency or steady row during which other processes used more
than --max-other-cpu is measured again (up to --attempts times; the
other%% column tells). Keys live under a private prefix and are deleted;
the memory rows' prefix is four characters long, as the default "runq"
is, and one that no key of the database had.

Example:
  %[1]s bench --redis redis://127.0.0.1:6379/5 --tasks 50000 --json runq.json

Flags:
`

// benchCommand is `runq bench`: runq's measurements, in runq's own binary
// only (worker programs built on runqcli do not carry them).
var benchCommand = cli.Command{
	Name:    "bench",
	Summary: "measure throughput, latency and costs on a Redis",
	Run: func(ctx context.Context, prog string, args []string, stdout, _ io.Writer) error {
		return runBench(ctx, prog, args, stdout)
	},
}

// runBench runs `runq bench`.
func runBench(ctx context.Context, prog string, args []string, stdout io.Writer) error {
	if bench.IsChild() {
		// This process is a child of a `runq bench` with this executable:
		// the waiters scenario's HTTP client, the steady rows' worker, or
		// the floor rows' bare HTTP server.
		return bench.RunChild(ctx, os.Stdin, stdout)
	}
	f, err := parseBenchFlags(prog, args, stdout)
	if err != nil {
		return err
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	cfg.Progress = stdout
	url, local, closeRedis, err := benchRedis(f.redisURL)
	if err != nil {
		return err
	}
	defer closeRedis()
	cfg.Embedded = local
	rdb, err := broker.Open(ctx, url, 256)
	if err != nil {
		return err
	}
	defer rdb.Close()
	cfg.Client, cfg.RedisURL = rdb, url
	fmt.Fprintf(stdout, "runq bench against %s\n", broker.Redact(url))
	rep, err := bench.Run(ctx, cfg)
	if rep != nil {
		fmt.Fprint(stdout, "\n", rep.Table())
		if f.jsonOut != "" {
			if jerr := writeJSON(rep, f.jsonOut); jerr != nil {
				return jerr
			}
		}
	}
	return err
}

// benchRedis is the URL of the Redis to measure: given, else REDIS_URL's,
// else that of an embedded one (local), which closeRedis stops.
func benchRedis(given string) (url string, local bool, closeRedis func(), err error) {
	if url = cmp.Or(given, os.Getenv("REDIS_URL")); url != "" {
		return url, false, func() {}, nil
	}
	emb, err := embedded.Start("127.0.0.1:0")
	if err != nil {
		return "", false, nil, err
	}
	return emb.URL(), true, emb.Close, nil
}

// writeJSON writes rep as JSON to file.
func writeJSON(rep *bench.Report, file string) error {
	data, err := rep.JSON()
	if err == nil {
		err = os.WriteFile(file, data, 0o644)
	}
	if err != nil {
		return fmt.Errorf("bench: write %s: %w", file, err)
	}
	return nil
}

// benchFlags are the flags of `runq bench`, as given.
type benchFlags struct {
	redisURL, rates, steadyRates, only, jsonOut  string
	tasks, waiters, attempts, dueTasks           int
	rateFor, steadyFor, steadyBatchWait, dueOver time.Duration
	maxOther                                     float64
}

// parseBenchFlags parses args; for -h it prints the help to stdout and
// returns flag.ErrHelp.
func parseBenchFlags(prog string, args []string, stdout io.Writer) (benchFlags, error) {
	var f benchFlags
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// The default is read after parsing: help would print it, password and all.
	fs.StringVar(&f.redisURL, "redis", "", "Redis URL; empty starts an embedded Redis (env REDIS_URL)")
	fs.IntVar(&f.tasks, "tasks", 100_000, "tasks per throughput scenario")
	fs.StringVar(&f.rates, "rates", "1000,5000", "tasks/s of the latency scenarios, comma-separated")
	fs.DurationVar(&f.rateFor, "rate-for", 5*time.Second, "how long each latency scenario runs")
	fs.IntVar(&f.waiters, "waiters", 10_000, "long polls parked at once by the waiters scenario")
	fs.StringVar(&f.steadyRates, "steady-rates", "100,1000,5000", "tasks/s of the steady rows, comma-separated")
	fs.DurationVar(&f.steadyFor, "steady-for", 10*time.Second, "how long each steady row submits")
	fs.DurationVar(&f.steadyBatchWait, "steady-batch-wait", 0, "the steady rows' worker's --batch-wait (0 to 1s)")
	fs.IntVar(&f.dueTasks, "due-tasks", 10_000, "tasks of the delayed rows, held back with run_at spread over --due-over")
	fs.DurationVar(&f.dueOver, "due-over", 10*time.Second, "how long the delayed rows' run_at times are spread over")
	fs.StringVar(&f.only, "only", "", "scenario groups to run, comma-separated: enqueue, drain, drainsizes (part of drain), priorities, latency, delayed, steady, memory, waiters, bounded (default all)")
	fs.StringVar(&f.jsonOut, "json", "", "also write the report as JSON to this file")
	fs.Float64Var(&f.maxOther, "max-other-cpu", 40, "CPU other processes may use during a row, % of one CPU, before it is measured again")
	fs.IntVar(&f.attempts, "attempts", 3, "measurements of a disturbed row at most; the least disturbed is reported (1 to 10)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprintf(stdout, benchUsage, prog)
			cli.PrintFlagSet(stdout, fs)
			return f, err
		}
		return f, cli.FlagError("bench", err)
	}
	return f, nil
}

// config checks f and returns the bench.Config it asks for, less the
// Redis; its errors wrap cli.ErrUsage.
func (f benchFlags) config() (bench.Config, error) {
	usage := func(msg string, args ...any) error {
		return fmt.Errorf("%w: bench: "+msg, append([]any{cli.ErrUsage}, args...)...)
	}
	switch {
	case math.IsNaN(f.maxOther) || f.maxOther <= 0 || f.maxOther > 100*float64(runtime.NumCPU()):
		return bench.Config{}, usage("--max-other-cpu must be above 0 and at most %d (100 per CPU)", 100*runtime.NumCPU())
	case f.attempts < 1 || f.attempts > 10:
		return bench.Config{}, usage("--attempts must be 1 to 10")
	case f.tasks < 1 || f.tasks > 10_000_000:
		return bench.Config{}, usage("--tasks must be 1 to 10000000")
	case f.waiters < 1 || f.waiters > 100_000:
		return bench.Config{}, usage("--waiters must be 1 to 100000")
	case f.steadyFor < 100*time.Millisecond || f.steadyFor > time.Hour:
		return bench.Config{}, usage("--steady-for must be 100ms to 1h")
	case f.steadyBatchWait < 0 || f.steadyBatchWait > time.Second:
		return bench.Config{}, usage("--steady-batch-wait must be 0 to 1s")
	case f.dueTasks < 1 || f.dueTasks > 1_000_000:
		return bench.Config{}, usage("--due-tasks must be 1 to 1000000")
	case f.dueOver < 100*time.Millisecond || f.dueOver > time.Hour:
		return bench.Config{}, usage("--due-over must be 100ms to 1h")
	}
	cfg := bench.Config{Tasks: f.tasks, RateFor: f.rateFor, Waiters: f.waiters, SteadyFor: f.steadyFor, SteadyBatchWait: f.steadyBatchWait,
		DueTasks: f.dueTasks, DueOver: f.dueOver, MaxOtherCPU: f.maxOther, Attempts: f.attempts}
	var err error
	if cfg.Rates, err = parseRates("rates", f.rates); err != nil {
		return bench.Config{}, err
	}
	if cfg.SteadyRates, err = parseRates("steady-rates", f.steadyRates); err != nil {
		return bench.Config{}, err
	}
	if f.only != "" {
		for _, g := range strings.Split(f.only, ",") {
			switch g = strings.TrimSpace(g); g {
			case "enqueue", "drain", "drainsizes", "priorities", "latency", "delayed", "steady", "memory", "waiters", "bounded":
				cfg.Only = append(cfg.Only, g)
			default:
				return bench.Config{}, usage("--only: unknown group %q", g)
			}
		}
	}
	return cfg, nil
}

// parseRates reads the comma-separated tasks/s of flag name: each 1 to
// 1,000,000.
func parseRates(name, list string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(list, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || r < 1 || r > 1_000_000 {
			return nil, fmt.Errorf("%w: bench: --%s: %q is not a rate from 1 to 1000000", cli.ErrUsage, name, part)
		}
		out = append(out, r)
	}
	return out, nil
}
