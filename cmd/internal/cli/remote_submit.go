package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// submitCommand is `runq submit`.
var submitCommand = remoteCommand{
	name: "submit", args: "NAME [JSON | @file | -]", summary: "submit a task and print its id",
	about: "Submits a task to the handler registered as NAME. Its payload is the JSON argument, the\n" +
		"contents of a file (@file), or stdin (-); none means null. It prints the task's id.\n" +
		"With --wait it follows the task until it ends, on stderr (on a terminal one status line with\n" +
		"a spinner and the time elapsed; else one line per change of status, the first with the id),\n" +
		"then prints the result JSON on stdout; it exits 1 if the task failed or was canceled.\n" +
		"With --delay or --run-at the task waits, scheduled, until then.\n" +
		"With --broadcast it runs once on every live worker that handles NAME in its queue; --wait\n" +
		"then prints every worker's answer, by worker id.\n" +
		"Bad input (bad JSON, a file it cannot read, a bad option) sends nothing.",
	example: `%[1]s submit echo '{"hello":"world"}' --queue default --wait`,
	run:     runSubmit,
}

// waitCommand is `runq wait`.
var waitCommand = remoteCommand{
	name: "wait", args: "ID", summary: "wait for a task to end and print its result",
	about: "Follows task ID until it ends, as submit --wait does, then prints its result JSON; it exits 1\n" +
		"if the task failed or was canceled, or is still going at --timeout.",
	example: "%[1]s wait 0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77 --timeout 5m",
	run:     runWait,
}

// runSubmit runs `runq submit`.
func runSubmit(ctx context.Context, s *session, args []string) error {
	req, wait, err := s.submitRequest(args)
	if err != nil {
		return err
	}
	call, cancel := context.WithTimeout(ctx, callTimeout)
	rec, err := s.c.Submit(call, req)
	cancel()
	if err != nil {
		return s.failed("submit "+req.Name, err)
	}
	if !wait {
		fmt.Fprintln(s.stdout, rec.ID)
		return nil
	}
	return s.waitAndPrint(ctx, rec)
}

// submitRequest reads the command line of `runq submit`: the request, and
// whether to wait. A request that Validate refuses is a usage error.
func (s *session) submitRequest(args []string) (req tasks.Request, wait bool, err error) {
	fs := s.newFlags()
	retries := 0
	fs.StringVar(&req.Queue, "queue", "", "the `QUEUE` to put the task in (default: the API's, \"default\")")
	fs.Var((*intValue)(&retries), "max-retries", "`N` retries after a failed attempt; 0 for none (default: the handler's, else the API's)")
	fs.Var((*durationValue)(&req.Timeout), "timeout", "`DURATION` limit of one attempt (default: the handler's, else the API's)")
	fs.Var((*durationValue)(&req.ResultTTL), "result-ttl", "keep the finished task this `DURATION` (default: the API's)")
	fs.Var((*durationValue)(&req.Delay), "delay", "hold the task back this `DURATION`, up to 365 days (scheduled, then queued)")
	fs.Var((*timeValue)(&req.RunAt), "run-at", "hold the task back until this RFC 3339 `TIME`, such as 2030-01-02T15:04:05Z")
	fs.BoolVar(&wait, "wait", false, "follow the task until it ends, then print its result")
	fs.BoolVar(&req.Broadcast, "broadcast", false, "run the task once on every live worker that handles it in its queue")
	keys := keyFlags(fs, &req)
	pos, err := s.parse(fs, args, 1, 2)
	if err != nil {
		return req, false, err
	}
	keys.apply(&req)
	req.Name = pos[0]
	if flagGiven(fs, "max-retries") {
		req.MaxRetries = retries
		if retries == 0 {
			req.MaxRetries = tasks.NoRetries
		}
	}
	if len(pos) == 2 {
		if req.Payload, err = s.payload(pos[1]); err != nil {
			return req, false, err
		}
	}
	if err := req.Validate(); err != nil {
		return req, false, usage("submit: " + strings.TrimPrefix(err.Error(), "tasks: "))
	}
	return req, wait, nil
}

// runWait runs `runq wait`.
func runWait(ctx context.Context, s *session, args []string) error {
	fs := s.newFlags()
	var limit time.Duration
	fs.Var((*durationValue)(&limit), "timeout", "give up after this `DURATION` (default: wait until the task ends)")
	pos, err := s.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	id, err := parseID(pos[0])
	if err != nil {
		return err
	}
	if limit < 0 {
		return usage("--timeout must not be negative")
	}
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	call, cancel := context.WithTimeout(ctx, callTimeout)
	rec, err := s.c.Get(call, id)
	cancel()
	if err != nil {
		return s.failed("wait for "+id.String(), err)
	}
	return s.waitAndPrint(ctx, rec)
}

// waitAndPrint follows the task of rec until it ends, then prints its
// result, or returns why it did not succeed.
func (s *session) waitAndPrint(ctx context.Context, rec results.Record) error {
	rec, err := s.follow(ctx, rec)
	if err != nil {
		return err
	}
	if rec.Broadcast != nil {
		return s.printBroadcast(rec)
	}
	switch rec.Status {
	case results.StatusSucceeded:
		out := rec.Result
		if len(out) == 0 {
			out = json.RawMessage("null")
		}
		fmt.Fprintf(s.stdout, "%s\n", out)
		return nil
	case results.StatusCanceled:
		return fmt.Errorf("task %s was canceled", rec.ID)
	}
	return fmt.Errorf("task %s failed after %s: %s", rec.ID, plural(rec.Attempts, "attempt"), rec.Error)
}

// payload reads a payload argument: JSON itself, @file or - for stdin. A
// payload that is not JSON, or that cannot be read, is a usage error.
func (s *session) payload(arg string) (json.RawMessage, error) {
	var raw []byte
	var err error
	from := "the payload"
	switch {
	case arg == "-":
		from = "stdin"
		raw, err = io.ReadAll(io.LimitReader(s.stdin, tasks.MaxPayload+1))
	case strings.HasPrefix(arg, "@"):
		from = arg[1:]
		raw, err = os.ReadFile(arg[1:])
	default:
		raw = []byte(arg)
	}
	if err != nil {
		return nil, usage(fmt.Sprintf("cannot read the payload: %v", err))
	}
	if len(raw) > tasks.MaxPayload {
		return nil, usage(fmt.Sprintf("the payload in %s is over the limit of %d bytes", from, tasks.MaxPayload))
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, usage(fmt.Sprintf("%s is not JSON: %v", from, err))
	}
	return json.RawMessage(strings.TrimSpace(string(raw))), nil
}

// parseID reads a task id, or returns a usage error.
func parseID(arg string) (uuid.UUID, error) {
	id, err := uuid.Parse(arg)
	if err != nil {
		return uuid.Nil, usage(fmt.Sprintf("%q is not a task id (a UUID such as 0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77)", truncate(arg, 40)))
	}
	return id, nil
}

// flagGiven reports whether the flag called name was on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// plural writes n and noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// printBroadcast prints the answers of the ended broadcast task of rec, by
// worker id, and returns why it did not succeed.
func (s *session) printBroadcast(rec results.Record) error {
	out, err := json.MarshalIndent(rec.Broadcast, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(s.stdout, "%s\n", out)
	switch rec.Status {
	case results.StatusSucceeded:
		return nil
	case results.StatusCanceled:
		return fmt.Errorf("task %s was canceled", rec.ID)
	}
	return fmt.Errorf("task %s failed: %s", rec.ID, rec.Error)
}
