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
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/tasks"
)

// Version is runq's version, printed by `runq version`. A release that
// changes the Redis layout states its upgrade path in its notes.
const Version = tasks.Version

// Command is a command that a program adds to all, serve, worker, version
// and help (runq adds bench).
type Command struct {
	Name    string // as typed: "bench"
	Summary string // one line, for the list of commands
	// Run runs the command with the arguments after its name. It prints
	// its own help for -h and --help and returns flag.ErrHelp, and wraps
	// ErrUsage around a usage error (exit code 2).
	Run func(ctx context.Context, prog string, args []string, stdout, stderr io.Writer) error
}

// ErrUsage marks an error in how a command was called; Main exits with 2.
var ErrUsage = errors.New("usage")

// commands describes the commands every program has.
var commands = []struct {
	name, args, summary, about, example string
}{
	{"all", "[flags]", "run the HTTP API and a worker pool (the default)",
		"Runs the HTTP API and a worker pool of this program's handlers in one process. With no --redis\n" +
			"(or REDIS_URL) an embedded Redis starts and its URL is logged, so that other processes can join\n" +
			"it; its data is lost at exit.",
		"%[1]s all --addr 127.0.0.1:8080 --concurrency 20"},
	{"serve", "[flags]", "run only the HTTP API",
		"Runs the HTTP API: it queues tasks in Redis, answers their records and waits for them. It\n" +
			"accepts the names of tasks that some worker has registered, and runs no handler itself.",
		"%[1]s serve --redis redis://10.0.0.5:6379/0 --addr 0.0.0.0:8080 --api-token \"$TOKEN\""},
	{"worker", "[flags]", "run only a worker pool",
		"Runs a worker pool: it claims tasks from the queues and runs this program's handlers on them.\n" +
			"It serves no HTTP, unless --metrics-addr asks for its Prometheus metrics and health checks. Run as\n" +
			"many as you like, on any machines, against one Redis.",
		"%[1]s worker --redis redis://10.0.0.5:6379/0 --queues critical,default --concurrency 50"},
	{"version", "", "print the version", "Prints the version of runq this program was built with.", "%[1]s version"},
	{"help", "[command]", "show help for a command", "Shows help for a command, or this list.", "%[1]s help worker"},
}

// Main runs the command line in os.Args with the handlers in reg and the
// extra commands, until SIGINT or SIGTERM, and returns the exit code: 0,
// 1 when the command failed, 2 on a usage error.
func Main(reg *tasks.Registry, extra ...Command) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, restore the default handling, so that a
	// second Ctrl-C stops a shutdown that waits for its grace period.
	context.AfterFunc(ctx, stop)
	// go-redis logs reconnect attempts on its own; we log what matters.
	redis.SetLogger(discardLogger{})
	prog := filepath.Base(os.Args[0])
	err := Run(ctx, os.Args, reg, os.Stdout, os.Stderr, extra...)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, strings.TrimPrefix(err.Error(), "usage: "))
		return 2
	default:
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		return 1
	}
}

// discardLogger silences go-redis's internal logger (its dial failures
// reach us as errors, which runq logs with context).
type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}

// Run runs the command in args (args[0] is the program) until ctx ends.
// Help goes to stdout; the logs of a running command go to stderr.
func Run(ctx context.Context, args []string, reg *tasks.Registry, stdout, stderr io.Writer, extra ...Command) error {
	prog := "runq"
	if len(args) > 0 {
		args, prog = args[1:], filepath.Base(args[0])
	}
	cmd, named := "all", len(args) > 0 && !strings.HasPrefix(args[0], "-")
	if named {
		cmd, args = args[0], args[1:]
	}
	for _, x := range extra {
		if x.Name == cmd {
			return x.Run(ctx, prog, args, stdout, stderr)
		}
	}
	if rc, ok := findRemote(cmd); ok {
		return runRemote(ctx, rc, prog, args, stdout, stderr)
	}
	switch cmd {
	case "all", "serve", "worker":
	case "version":
		if len(args) > 0 {
			return usage("version takes no arguments")
		}
		fmt.Fprintln(stdout, "runq", Version)
		return nil
	case "help":
		if len(args) == 0 {
			printUsage(stdout, prog, extra)
			return flag.ErrHelp
		}
		if len(args) > 1 || !known(args[0], extra) {
			return usage(fmt.Sprintf("help %s: no such command (commands: %s)", strings.Join(args, " "), names(extra)))
		}
		return Run(ctx, []string{prog, args[0], "--help"}, reg, stdout, stderr, extra...)
	default:
		return usage(fmt.Sprintf("unknown command %q (commands: %s; %s --help for more)", cmd, names(extra), prog))
	}
	var cfg config
	fs := newFlagSet(cmd, &cfg)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if !named { // plain `runq --help`: the commands first
				printUsage(stdout, prog, extra)
			}
			printHelp(stdout, prog, cmd)
			return err
		}
		return usage(err.Error())
	}
	if fs.NArg() > 0 {
		return usage(fmt.Sprintf("unexpected argument %q (%s %s takes flags only)", fs.Arg(0), prog, cmd))
	}
	if err := cfg.validate(cmd); err != nil {
		return usage(err.Error())
	}
	log, err := newLogger(cfg, stderr) // its error is --log-level's
	if err != nil {
		return usage(err.Error())
	}
	for _, cl := range cfg.crons {
		if err := reg.AddCron(cl.spec, cl.name, cl.payload); err != nil {
			return usage(fmt.Sprintf("--cron: %v", strings.TrimPrefix(err.Error(), tasks.ErrInvalid.Error()+": ")))
		}
	}
	if cmd != "serve" && len(reg.Names()) == 0 {
		return usage("this program registers no handlers, so it cannot run a worker; use `serve`")
	}
	return run(ctx, cmd, cfg, reg, log, stdout)
}

// validate checks cfg for cmd, as a usage error's words.
func (c *config) validate(cmd string) error {
	if err := c.check(); err != nil {
		return err
	}
	if cmd != "worker" {
		if err := c.checkExposure(); err != nil {
			return err
		}
	}
	for _, q := range c.queues {
		if err := broker.ValidQueue(q); err != nil {
			return fmt.Errorf("--queues: %v", err)
		}
	}
	c.crons = c.crons[:0]
	for _, line := range c.cron {
		cl, err := parseCronLine(line)
		if err != nil {
			return fmt.Errorf("--cron %q: %v (env RUNQ_CRON)", truncate(strings.TrimSpace(line), 60), err)
		}
		c.crons = append(c.crons, cl)
	}
	return nil
}

func usage(msg string) error { return fmt.Errorf("%w: %s", ErrUsage, msg) }

// known reports whether cmd is a command of the program.
func known(cmd string, extra []Command) bool {
	for _, b := range commands {
		if b.name == cmd {
			return true
		}
	}
	if _, ok := findRemote(cmd); ok {
		return true
	}
	return slices.ContainsFunc(extra, func(x Command) bool { return x.Name == cmd })
}

// names lists the program's commands.
func names(extra []Command) string {
	var out []string
	for _, b := range commands {
		out = append(out, b.name)
	}
	for _, x := range extra {
		out = append(out, x.Name)
	}
	for _, rc := range remoteCommands {
		out = append(out, rc.name)
	}
	return strings.Join(out, ", ")
}

// printUsage writes the list of commands.
func printUsage(w io.Writer, prog string, extra []Command) {
	fmt.Fprintf(w, "%s: a task runner with result tracking, on Redis (runq %s).\n\nUsage:\n", prog, Version)
	for _, b := range commands {
		fmt.Fprintf(w, "  %-26s %s\n", prog+" "+b.name+" "+b.args, b.summary)
	}
	for _, x := range extra {
		fmt.Fprintf(w, "  %-26s %s\n", prog+" "+x.Name+" [flags]", x.Summary)
	}
	fmt.Fprintf(w, "\nTo use a running runq from any machine, over its HTTP API (--api URL, env RUNQ_API;\n"+
		"--api-token, env RUNQ_API_TOKEN):\n")
	for _, rc := range remoteCommands {
		fmt.Fprintf(w, "  %-38s %s\n", strings.Join(strings.Fields(prog+" "+rc.name+" "+rc.args), " "), rc.summary)
	}
	fmt.Fprintf(w, "\n%s help COMMAND, or %s COMMAND --help, shows a command's flags.\n\n", prog, prog)
}

// printHelp writes the help of one of all, serve and worker: what it does,
// its flags by group, and an example.
func printHelp(w io.Writer, prog, cmd string) {
	for _, b := range commands {
		if b.name != cmd {
			continue
		}
		fmt.Fprintf(w, "%s %s: %s.\n\n%s\n\nUsage: %s %s %s\n", prog, cmd, b.summary, b.about, prog, cmd, b.args)
		printFlags(w, cmd)
		fmt.Fprintf(w, "\nEvery flag also reads as -flag, and from its environment variable when not given.\n\nExample:\n  "+b.example+"\n", prog)
	}
}

// newLogger returns the logger of cfg, writing to w.
func newLogger(cfg config, w io.Writer) (*slog.Logger, error) {
	level, err := parseLevel(cfg.logLevel)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

func parseLevel(s string) (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return level, nil
}
