package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/tasks"
)

// pauseCommand is `runq pause`.
var pauseCommand = remoteCommand{
	name: "pause", args: "QUEUE", summary: "stop workers taking a queue's tasks",
	about: "Pauses QUEUE: every worker stops taking its tasks at once (tasks already running finish);\n" +
		"submissions still queue. Pausing a paused queue does nothing. `resume` undoes it.",
	example: "%[1]s pause emails",
	run: func(ctx context.Context, s *session, args []string) error {
		return s.setPaused(ctx, args, true)
	},
}

// resumeCommand is `runq resume`.
var resumeCommand = remoteCommand{
	name: "resume", args: "QUEUE", summary: "let workers take a paused queue's tasks again",
	about:   "Resumes QUEUE after `pause`: workers take its tasks again. Resuming a queue not paused does nothing.",
	example: "%[1]s resume emails",
	run: func(ctx context.Context, s *session, args []string) error {
		return s.setPaused(ctx, args, false)
	},
}

// queueCommand is `runq queue`.
var queueCommand = remoteCommand{
	name: "queue", args: "QUEUE", summary: "show or set a queue's limits",
	about: "With no flag, shows QUEUE's settings and how many of its tasks are queued and running. With\n" +
		"--max-length N, a submission to the queue while it holds N queued tasks is refused (HTTP 429)\n" +
		"unless it waits for room; with --max-running N, at most N of its tasks run at once across every\n" +
		"worker. 0 removes a limit. The change takes effect in every process at once.",
	example: "%[1]s queue emails --max-length 10000 --max-running 3",
	run:     runQueue,
}

// setPaused runs pause (paused) or resume.
func (s *session) setPaused(ctx context.Context, args []string, paused bool) error {
	pos, err := s.parse(s.newFlags(), args, 1, 1)
	if err != nil {
		return err
	}
	queue := pos[0]
	if err := checkQueue(queue); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	verb, done, call := "pause", "paused", s.c.PauseQueue
	if !paused {
		verb, done, call = "resume", "resumed", s.c.ResumeQueue
	}
	if err := call(ctx, queue); err != nil {
		return s.failed(verb+" "+queue, err)
	}
	fmt.Fprintf(s.stdout, "queue %s %s\n", queue, done)
	return nil
}

// checkQueue refuses a bad queue name before anything is sent.
func checkQueue(queue string) error {
	if broker.ValidQueue(queue) != nil {
		return usage(fmt.Sprintf("queue %q: use 1-%d letters, digits, '_', '.' or '-'", truncate(queue, 40), broker.MaxQueueLen))
	}
	return nil
}

// runQueue runs `runq queue`.
func runQueue(ctx context.Context, s *session, args []string) error {
	fs := s.newFlags()
	var maxLength, maxRunning intValue
	fs.Var(&maxLength, "max-length", fmt.Sprintf("refuse submissions while the queue holds `N` queued tasks, 1 to %d; 0 removes the bound", broker.MaxMaxLength))
	fs.Var(&maxRunning, "max-running", fmt.Sprintf("run at most `N` of its tasks at once, 1 to %d; 0 removes the cap", broker.MaxMaxRunning))
	pos, err := s.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	queue := pos[0]
	if err := checkQueue(queue); err != nil {
		return err
	}
	var u tasks.QueueUpdate
	for _, f := range []struct {
		name string
		v    intValue
		max  int
		set  **int
	}{{"max-length", maxLength, broker.MaxMaxLength, &u.MaxLength}, {"max-running", maxRunning, broker.MaxMaxRunning, &u.MaxRunning}} {
		if !flagGiven(fs, f.name) {
			continue
		}
		if f.v < 0 || int(f.v) > f.max {
			return usage(fmt.Sprintf("--%s %d: want 1 to %d, or 0 to remove it", f.name, f.v, f.max))
		}
		n := int(f.v)
		*f.set = &n
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if u.MaxLength == nil && u.MaxRunning == nil {
		q, err := s.c.Queue(ctx, queue)
		if err != nil {
			return s.failed("queue "+queue, err)
		}
		printSettings(s.stdout, queue, q.QueueSettings, &q)
		return nil
	}
	settings, err := s.c.UpdateQueue(ctx, queue, u)
	if err != nil {
		return s.failed("set queue "+queue, err)
	}
	printSettings(s.stdout, queue, settings, nil)
	return nil
}

// printSettings writes a queue's settings, one a line, with its counts
// when q is given.
func printSettings(w io.Writer, queue string, st tasks.QueueSettings, q *tasks.QueueInfo) {
	limit := func(n int) string {
		if n == 0 {
			return "none"
		}
		return strconv.Itoa(n)
	}
	paused := "no"
	if st.Paused {
		paused = "yes"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "queue:\t%s\n", queue)
	fmt.Fprintf(tw, "paused:\t%s\n", paused)
	fmt.Fprintf(tw, "max length:\t%s\n", limit(st.MaxLength))
	fmt.Fprintf(tw, "max running:\t%s\n", limit(st.MaxRunning))
	if q != nil {
		fmt.Fprintf(tw, "queued:\t%d\n", q.Queued)
		fmt.Fprintf(tw, "running:\t%d\n", q.Running)
	}
	tw.Flush()
}
