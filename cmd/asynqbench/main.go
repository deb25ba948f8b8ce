// Command asynqbench measures github.com/hibiken/asynq on the machine and
// Redis that `runq bench` measures, so runq's README can state its advantage
// as a ratio from one run instead of quoting someone else's numbers.
//
// It is a separate Go module (github.com/runq/runq/cmd/asynqbench) so that
// asynq and its dependencies never enter runq's own go.mod: `go build ./...`
// at the repository root skips this directory, and runq's users never
// download asynq.
//
// It owns one Redis database and nothing else. --redis must name a loopback
// address and an explicit database, for example redis://127.0.0.1:6379/9;
// asynqbench refuses to start unless that database is empty, and at the end
// (and between phases) deletes only the keys asynq wrote ("asynq:*"). It never
// calls FLUSHDB. INFO cpu, commandstats and memory are server-wide and the
// CPUs are shared, so asynqbench watches for other Redis clients and other
// busy processes: it waits for a quiet machine before each measurement,
// repeats a disturbed one, and prints what it saw next to every row.
//
// Usage:
//
//	go run . --redis redis://127.0.0.1:6379/9 --tasks 100000 --json /tmp/asynqbench.json
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config holds the command-line flags.
type config struct {
	redisURL           string
	tasks              int
	jsonPath           string
	rate               int
	latencyDuration    time.Duration
	fastCheckInterval  time.Duration
	latencyConcurrency int
	attempts           int
	settle             time.Duration
	maxOtherCPU        float64
	timeout            time.Duration
	steadyRates        []int           // tasks/s of the steady rows
	steadyFor          time.Duration   // length of each steady row
	only               map[string]bool // groups to run; empty runs all
}

// runs reports whether the group (one of groups) is to run: every group
// when --only is not given, and drainsizes, the drain rows at larger
// payloads, whenever throughput is.
func (c config) runs(group string) bool {
	return len(c.only) == 0 || c.only[group] || group == "drainsizes" && c.only["throughput"]
}

func main() {
	if raw, ok := os.LookupEnv(workerEnv); ok {
		if err := runWorker(raw); err != nil {
			fmt.Fprintln(os.Stderr, "asynqbench worker:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "asynqbench:", err)
		os.Exit(1)
	}
}

// parseFlags reads and bounds the flags; every run stays bounded in time,
// task count and rate.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("asynqbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.redisURL, "redis", "", "loopback Redis URL with an explicit, empty database, e.g. redis://127.0.0.1:6379/9 (required)")
	fs.IntVar(&c.tasks, "tasks", 100000, "tasks per enqueue and drain measurement (1000..1000000)")
	fs.StringVar(&c.jsonPath, "json", "", "also write the results as JSON to this file")
	fs.IntVar(&c.rate, "rate", 1000, "tasks/s for the latency measurement (1..20000)")
	fs.DurationVar(&c.latencyDuration, "latency-duration", 5*time.Second, "length of each latency measurement (up to 60s)")
	fs.DurationVar(&c.fastCheckInterval, "fast-check-interval", time.Millisecond, "asynq TaskCheckInterval for the fast latency row")
	fs.IntVar(&c.latencyConcurrency, "latency-concurrency", 10, "asynq server concurrency for the latency rows")
	fs.IntVar(&c.attempts, "attempts", 3, "measure a phase up to this many times while other clients disturb it (1..5)")
	fs.Float64Var(&c.maxOtherCPU, "max-other-cpu", 40, "CPU other processes may use during an undisturbed measurement, % of one CPU")
	fs.DurationVar(&c.settle, "settle", 10*time.Minute, "wait at most this long in all for a quiet machine before measurements")
	fs.DurationVar(&c.timeout, "timeout", 45*time.Minute, "give up after this long")
	fs.DurationVar(&c.steadyFor, "steady-for", 10*time.Second, "length of each steady row (up to 60s)")
	listFlags(fs, &c)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.redisURL == "":
		return c, errors.New("--redis is required (a loopback URL with an empty database, e.g. redis://127.0.0.1:6379/9)")
	case c.tasks < 1000 || c.tasks > 1000000:
		return c, fmt.Errorf("--tasks %d: want 1000..1000000", c.tasks)
	case c.rate < 1 || c.rate > 20000:
		return c, fmt.Errorf("--rate %d: want 1..20000", c.rate)
	case c.latencyDuration <= 0 || c.latencyDuration > time.Minute:
		return c, fmt.Errorf("--latency-duration %s: want (0, 60s]", c.latencyDuration)
	case c.settle < 0 || c.settle > 30*time.Minute:
		return c, fmt.Errorf("--settle %s: want 0..30m", c.settle)
	case c.attempts < 1 || c.attempts > 5:
		return c, fmt.Errorf("--attempts %d: want 1..5", c.attempts)
	case c.fastCheckInterval <= 0 || c.latencyConcurrency < 1:
		return c, errors.New("--fast-check-interval and --latency-concurrency must be positive")
	case c.steadyFor <= 0 || c.steadyFor > time.Minute:
		return c, fmt.Errorf("--steady-for %s: want (0, 60s]", c.steadyFor)
	}
	return c, nil
}

// listFlags defines the flags that take comma-separated lists.
func listFlags(fs *flag.FlagSet, c *config) {
	c.steadyRates = []int{100, 1000, 5000}
	fs.Func("steady-rates", "comma-separated tasks/s of the steady rows, each 1..20000 (default 100,1000,5000)", func(v string) error {
		c.steadyRates = nil
		return eachItem(v, func(item string) error {
			n, err := strconv.Atoi(item)
			if err != nil || n < 1 || n > 20000 {
				return fmt.Errorf("rate %q: want 1..20000", item)
			}
			c.steadyRates = append(c.steadyRates, n)
			return nil
		})
	})
	fs.Func("only", "run only these comma-separated groups (default all): throughput (enqueue, drain, lifecycle, memory of a 20-byte task; includes drainsizes), drainsizes (drain storing a result at concurrency 50 with 64 and 1024-byte payloads), latency, steady, memory (per payload size)", func(v string) error {
		c.only = map[string]bool{}
		return eachItem(v, func(item string) error {
			if !slices.Contains(groups, item) {
				return fmt.Errorf("group %q: want one of %s", item, strings.Join(groups, ", "))
			}
			c.only[item] = true
			return nil
		})
	})
}

// eachItem calls fn with every item of a comma-separated list, spaces
// trimmed; an empty list is an error.
func eachItem(list string, fn func(string) error) error {
	items := strings.Split(list, ",")
	for _, item := range items {
		if item = strings.TrimSpace(item); item == "" {
			return errors.New("empty item in list")
		}
		if err := fn(item); err != nil {
			return err
		}
	}
	return nil
}

// run checks the target, runs every measurement, prints the table and writes
// the JSON. asynq's keys are deleted on every way out, including errors and
// interrupts.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	opts, err := loopbackOptions(cfg.redisURL)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	b := newBench(cfg, opts, stderr)
	defer b.mon.Close()
	if err := b.requireEmpty(ctx); err != nil {
		return err
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer ccancel()
		err = errors.Join(err, b.cleanup(cctx))
	}()
	rep, err := b.all(ctx)
	if err != nil {
		return err
	}
	rep.print(stdout)
	if cfg.jsonPath == "" {
		return nil
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	return os.WriteFile(cfg.jsonPath, append(data, '\n'), 0o644)
}
