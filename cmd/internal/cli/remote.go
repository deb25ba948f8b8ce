package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/runq/runq/api/client"
	"github.com/runq/runq/tasks"
)

// The client commands talk to a running runq over its HTTP API, through
// api/client, so that they work from any machine that reaches the API;
// they need no Redis and no handlers.

// remoteCommand is one client command: its help and what it runs.
type remoteCommand struct {
	name, args, summary, about, example string
	run                                 func(ctx context.Context, s *session, args []string) error
}

// remoteCommands are the client commands, in the order help lists them.
var remoteCommands = []remoteCommand{submitCommand, waitCommand, getCommand, cancelCommand, retryCommand,
	tasksCommand, queuesCommand, workersCommand, schedulesCommand, purgeCommand, queueCommand, pauseCommand, resumeCommand}

// findRemote returns the client command called name.
func findRemote(name string) (remoteCommand, bool) {
	for _, rc := range remoteCommands {
		if rc.name == name {
			return rc, true
		}
	}
	return remoteCommand{}, false
}

// Where the client commands find the API, when neither --api nor RUNQ_API
// says, and how long one call that does not wait may take.
const (
	defaultAPI  = "http://127.0.0.1:8080"
	callTimeout = 30 * time.Second
)

// session is one run of a client command: its streams, whether they are
// terminals, and, once parse has run, the API client.
type session struct {
	cmd            remoteCommand
	prog           string
	stdin          io.Reader
	stdout, stderr io.Writer
	inTTY, errTTY  bool // stdin, stderr are terminals

	api, token string
	c          *client.Client
}

// runRemote runs client command rc with args, on this process's stdin.
func runRemote(ctx context.Context, rc remoteCommand, prog string, args []string, stdout, stderr io.Writer) error {
	s := &session{cmd: rc, prog: prog, stdin: os.Stdin, stdout: stdout, stderr: stderr,
		inTTY: isTerminal(os.Stdin), errTTY: isTerminal(stderr)}
	return rc.run(ctx, s, args)
}

// isTerminal reports whether w is a terminal. It asks the terminal driver
// (go-isatty, which echo already links): a mode check such as
// os.ModeCharDevice takes /dev/null for a terminal too.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// newFlags returns the flag set of the session's command, with --api and
// --api-token, which every client command takes.
func (s *session) newFlags() *flag.FlagSet {
	fs := flag.NewFlagSet(s.cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by Main; help by parse
	fs.StringVar(&s.api, "api", defaultAPI, "base `URL` of the runq API (env RUNQ_API)")
	fs.StringVar(&s.token, "api-token", "", "bearer `TOKEN` of the API, as given to serve --api-token (env RUNQ_API_TOKEN)")
	return fs
}

// parse parses args with fs, flags and arguments in any order (all after
// "--" are arguments), checks that from min to max arguments came, reads
// RUNQ_API and RUNQ_API_TOKEN for the flags not given, and makes the
// client. With -h or --help it prints the command's help and returns
// flag.ErrHelp.
func (s *session) parse(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, error) {
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		s.printHelp(fs)
		return nil, err
	}
	if err != nil {
		return nil, FlagError(s.cmd.name, err)
	}
	switch {
	case len(pos) < minArgs:
		return nil, usage(fmt.Sprintf("%s needs %s (see %s help %s)", s.cmd.name, s.cmd.args, s.prog, s.cmd.name))
	case len(pos) > maxArgs:
		return nil, usage(fmt.Sprintf("%s: unexpected argument %q (see %s help %s)", s.cmd.name, pos[maxArgs], s.prog, s.cmd.name))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if v, ok := os.LookupEnv("RUNQ_API"); ok && !given["api"] {
		s.api = v
	}
	if v, ok := os.LookupEnv("RUNQ_API_TOKEN"); ok && !given["api-token"] {
		s.token = v
	}
	if s.c, err = client.New(s.api, client.Config{Token: s.token}); err != nil {
		return nil, usage(fmt.Sprintf("--api %q (env RUNQ_API): want a URL such as %s", s.api, defaultAPI))
	}
	return pos, nil
}

// parseInterspersed parses args with fs and returns the arguments that are
// not flags, which may come before, between and after the flags, as in
// `runq submit echo '{}' --wait`.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// printHelp writes the help of the session's command.
func (s *session) printHelp(fs *flag.FlagSet) {
	rc := s.cmd
	line := strings.Join(strings.Fields(s.prog+" "+rc.name+" "+rc.args+" [flags]"), " ")
	fmt.Fprintf(s.stdout, "%s %s: %s.\n\n%s\n\nUsage: %s\n\nFlags:\n", s.prog, rc.name, rc.summary, rc.about, line)
	PrintFlagSet(s.stdout, fs)
	fmt.Fprintf(s.stdout, "\nExit codes: 0 done, 1 the operation or the task failed, 2 usage (nothing was sent).\n\nExample:\n  "+rc.example+"\n", s.prog)
}

// failed words an error of the API for the operator: the API's own
// message, or why it could not be reached.
func (s *session) failed(op string, err error) error {
	var ae *client.Error
	switch {
	case errors.As(err, &ae) && strings.HasPrefix(ae.Message, op): // the API's words name the operation
		return fmt.Errorf("%s (HTTP %d)", ae.Message, ae.Status)
	case errors.As(err, &ae):
		return fmt.Errorf("%s: %s (HTTP %d)", op, ae.Message, ae.Status)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: no answer from %s: %w", op, s.api, err)
	case errors.Is(err, tasks.ErrUnavailable):
		var ue *url.Error // the dial's own words, without the request's
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s: cannot reach the runq API at %s (--api, env RUNQ_API): %v", op, s.api, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
