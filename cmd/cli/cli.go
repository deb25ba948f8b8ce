package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/tasks"
)

// Version is runq's version, printed by `runq version`.
const Version = "0.1.0"

const usage = `runq: a task runner with result tracking, on Redis.

Usage:
  %[1]s [all] [flags]   run the HTTP API and a worker pool (the default)
  %[1]s serve [flags]   run only the HTTP API
  %[1]s worker [flags]  run only a worker pool
  %[1]s bench [flags]   measure throughput, latency and costs (-h for its flags)
  %[1]s version         print the version

With no --redis (or REDIS_URL), an embedded Redis starts and its address is
logged, so other processes can join it; its data is lost at exit.

Flags (each has an environment twin; a flag wins over its variable):
`

// Main runs the command line in os.Args with the handlers in reg, until
// SIGINT or SIGTERM, and returns the process exit code: 0, 1 on a runtime
// error, 2 on a usage error.
func Main(reg *tasks.Registry) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, restore the default handling, so that a
	// second Ctrl-C stops a shutdown that waits for its grace period.
	context.AfterFunc(ctx, stop)
	// go-redis logs reconnect attempts on its own; we log what matters.
	redis.SetLogger(discardLogger{})
	err := Run(ctx, os.Args, reg, os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[0], err)
		return 2
	default:
		fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[0], err)
		return 1
	}
}

var errUsage = errors.New("usage")

// discardLogger silences go-redis's internal logger (its dial failures
// reach us as errors, which runq logs with context).
type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}

// Run runs the command in args (args[0] is the program name) until ctx ends.
func Run(ctx context.Context, args []string, reg *tasks.Registry, stdout, stderr io.Writer) error {
	prog := "runq"
	if len(args) > 0 {
		args, prog = args[1:], args[0]
	}
	cmd := "all"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "all", "serve", "worker":
	case "bench":
		return runBench(ctx, prog, args, stdout)
	case "version":
		if len(args) > 0 {
			return fmt.Errorf("%w: version takes no arguments", errUsage)
		}
		fmt.Fprintln(stdout, "runq", Version)
		return nil
	case "help":
		cmd = "all"
		if len(args) > 0 {
			cmd = args[0]
		}
		args = []string{"-h"}
		if cmd != "all" && cmd != "serve" && cmd != "worker" {
			return fmt.Errorf("%w: no help for %q (want all, serve or worker)", errUsage, cmd)
		}
	default:
		return fmt.Errorf("%w: unknown command %q (want all, serve, worker, bench or version; -h for help)", errUsage, cmd)
	}
	var cfg config
	fs := newFlagSet(cmd, &cfg)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, usage, prog)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return err
		}
		return fmt.Errorf("%w: %v (-h for help)", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if err := cfg.check(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if cmd != "worker" {
		if err := cfg.checkExposure(); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	for _, q := range cfg.queues {
		if err := broker.ValidQueue(q); err != nil {
			return fmt.Errorf("%w: --queues: %v", errUsage, err)
		}
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if cmd != "serve" && len(reg.Names()) == 0 {
		return fmt.Errorf("%w: this program registers no handlers, so it cannot run a worker; use `serve`", errUsage)
	}
	err = run(ctx, cmd, cfg, reg, log, stdout)
	if errors.Is(err, broker.ErrBadURL) {
		return fmt.Errorf("%w: --redis (REDIS_URL): %v", errUsage, err)
	}
	return err
}

func newLogger(cfg config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", cfg.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}
