package main

import (
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

Measures runq on the Redis given (or an embedded one, whose figures are not
representative): enqueue throughput (1 and 16 producers, and batches of
1,000), drain throughput (concurrency 10/50/100, no-op and storing a
result), latency at fixed rates, Redis round trips, commands and CPU per
task, process CPU per task, Redis memory per queued task, and what
--waiters long polls parked at once cost the API server (memory,
goroutines, Redis connections) and how fast they wake (its HTTP clients run
in a child process of this executable). "life" rows add an enqueue row to
the drain at concurrency 50 storing a result: a task's whole cost. A
throughput or latency row during which other processes used more than
--max-other-cpu is measured again (up to --attempts times; the other%%
column tells). Keys live under a
private prefix and are deleted.

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
		// This process is the HTTP client of the waiters scenario,
		// started by a `runq bench` with this executable.
		return bench.RunChild(ctx, os.Stdin, stdout)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// The default is read after parsing: help would print it, password and all.
	redisURL := fs.String("redis", "", "Redis URL; empty starts an embedded Redis (env REDIS_URL)")
	n := fs.Int("tasks", 100_000, "tasks per throughput scenario")
	rates := fs.String("rates", "1000,5000", "tasks/s of the latency scenarios, comma-separated")
	rateFor := fs.Duration("rate-for", 5*time.Second, "how long each latency scenario runs")
	waiters := fs.Int("waiters", 10_000, "long polls parked at once by the waiters scenario")
	only := fs.String("only", "", "scenario groups to run, comma-separated: enqueue, drain, latency, memory, waiters (default all)")
	jsonOut := fs.String("json", "", "also write the report as JSON to this file")
	maxOther := fs.Float64("max-other-cpu", 40, "CPU other processes may use during a row, % of one CPU, before it is measured again")
	attempts := fs.Int("attempts", 3, "measurements of a disturbed row at most; the least disturbed is reported (1 to 10)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprintf(stdout, benchUsage, prog)
			cli.PrintFlagSet(stdout, fs)
			return err
		}
		return cli.FlagError("bench", err)
	}
	cfg := bench.Config{Tasks: *n, RateFor: *rateFor, Waiters: *waiters, Progress: stdout, MaxOtherCPU: *maxOther, Attempts: *attempts}
	if math.IsNaN(*maxOther) || *maxOther <= 0 || *maxOther > 100*float64(runtime.NumCPU()) {
		return fmt.Errorf("%w: bench: --max-other-cpu must be above 0 and at most %d (100 per CPU)", cli.ErrUsage, 100*runtime.NumCPU())
	}
	if *attempts < 1 || *attempts > 10 {
		return fmt.Errorf("%w: bench: --attempts must be 1 to 10", cli.ErrUsage)
	}
	if *n < 1 || *n > 10_000_000 {
		return fmt.Errorf("%w: bench: --tasks must be 1 to 10000000", cli.ErrUsage)
	}
	if *waiters < 1 || *waiters > 100_000 {
		return fmt.Errorf("%w: bench: --waiters must be 1 to 100000", cli.ErrUsage)
	}
	for _, part := range strings.Split(*rates, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || r < 1 || r > 1_000_000 {
			return fmt.Errorf("%w: bench: --rates: %q is not a rate from 1 to 1000000", cli.ErrUsage, part)
		}
		cfg.Rates = append(cfg.Rates, r)
	}
	if *only != "" {
		for _, g := range strings.Split(*only, ",") {
			switch g = strings.TrimSpace(g); g {
			case "enqueue", "drain", "latency", "memory", "waiters":
				cfg.Only = append(cfg.Only, g)
			default:
				return fmt.Errorf("%w: bench: --only: unknown group %q", cli.ErrUsage, g)
			}
		}
	}
	url := *redisURL
	if url == "" {
		url = os.Getenv("REDIS_URL")
	}
	if url == "" {
		emb, err := embedded.Start("127.0.0.1:0")
		if err != nil {
			return err
		}
		defer emb.Close()
		url, cfg.Embedded = emb.URL(), true
	}
	rdb, err := broker.Open(ctx, url, 256)
	if err != nil {
		return err
	}
	defer rdb.Close()
	cfg.Client = rdb
	fmt.Fprintf(stdout, "runq bench against %s\n", broker.Redact(url))
	rep, err := bench.Run(ctx, cfg)
	if rep != nil {
		fmt.Fprint(stdout, "\n", rep.Table())
		if *jsonOut != "" {
			data, jerr := rep.JSON()
			if jerr == nil {
				jerr = os.WriteFile(*jsonOut, data, 0o644)
			}
			if jerr != nil {
				return fmt.Errorf("bench: write %s: %w", *jsonOut, jerr)
			}
		}
	}
	return err
}
