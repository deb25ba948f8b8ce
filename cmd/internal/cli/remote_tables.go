package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/tasks"
)

// tasksCommand is `runq tasks`.
var tasksCommand = remoteCommand{
	name: "tasks", args: "", summary: "list tasks, newest first",
	about: "Lists tasks, newest first, as a table: id, name, queue, status, attempts, created. When there\n" +
		"are more, it ends with the command that shows the next page (--cursor), on stderr.",
	example: "%[1]s tasks --queue default --status failed --limit 20",
	run:     runTasks,
}

// queuesCommand is `runq queues`.
var queuesCommand = remoteCommand{
	name: "queues", args: "", summary: "list queues and their counts",
	about: "Lists every known queue as a table: its tasks by status, how long the oldest queued task has\n" +
		"waited, and the attempts finished (done) and failed in the last minute and hour.",
	example: "%[1]s queues --api http://10.0.0.5:8080",
	run:     runQueues,
}

// workersCommand is `runq workers`.
var workersCommand = remoteCommand{
	name: "workers", args: "", summary: "list live workers",
	about: "Lists the live worker processes as a table: id, host, pid, queues, concurrency, handlers\n" +
		"running now, when each started and last reported, and its runq version.",
	example: "%[1]s workers",
	run:     runWorkers,
}

// schedulesCommand is `runq schedules`.
var schedulesCommand = remoteCommand{
	name: "schedules", args: "", summary: "list periodic schedules",
	about: "Lists the periodic schedules that workers declared (--cron, or Cron and Every in Go) in the last\n" +
		"24 hours, as a table: spec, task name, queue, the last tick that created a task and that task, the\n" +
		"next tick, and the schedule's id.",
	example: "%[1]s schedules",
	run:     runSchedules,
}

// runTasks runs `runq tasks`.
func runTasks(ctx context.Context, s *session, args []string) error {
	fs := s.newFlags()
	var opts tasks.ListOptions
	fs.StringVar(&opts.Queue, "queue", "", "only tasks of this `QUEUE`")
	fs.Var((*stringValue)(&opts.Status), "status", "only tasks of this `STATUS`: scheduled, queued, running, retrying, succeeded, failed or canceled")
	fs.StringVar(&opts.Name, "name", "", "only tasks of this `NAME`")
	fs.Var((*intValue)(&opts.Limit), "limit", fmt.Sprintf("`N` tasks to show, 1 to %d (default %d)", tasks.MaxListLimit, tasks.DefaultListLimit))
	fs.StringVar(&opts.Cursor, "cursor", "", "continue a listing where its page ended (the `CURSOR` that page printed)")
	if _, err := s.parse(fs, args, 0, 0); err != nil {
		return err
	}
	if err := checkList(fs, opts); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	page, err := s.c.List(ctx, opts)
	if err != nil {
		return s.failed("list tasks", err)
	}
	tw := tabwriter.NewWriter(s.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tQUEUE\tSTATUS\tATTEMPTS\tCREATED")
	for _, r := range page.Tasks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", r.ID, r.Name, r.Queue, r.Status, r.Attempts, r.CreatedAt.Local().Format(time.DateTime))
	}
	tw.Flush()
	if page.NextCursor != "" {
		fmt.Fprintf(s.stderr, "more: %s\n", nextPage(s.prog, args, page.NextCursor))
	}
	return nil
}

// checkList checks the filters of `runq tasks` before anything is sent.
func checkList(fs *flag.FlagSet, o tasks.ListOptions) error {
	switch {
	case o.Queue != "" && broker.ValidQueue(o.Queue) != nil:
		return usage(fmt.Sprintf("--queue %q: %v", truncate(o.Queue, 40), broker.ValidQueue(o.Queue)))
	case o.Status != "" && !o.Status.Valid():
		return usage(fmt.Sprintf("--status %q: want scheduled, queued, running, retrying, succeeded, failed or canceled", truncate(string(o.Status), 40)))
	case flagGiven(fs, "limit") && (o.Limit < 1 || o.Limit > tasks.MaxListLimit):
		return usage(fmt.Sprintf("--limit must be 1 to %d", tasks.MaxListLimit))
	}
	return nil
}

// nextPage is the command line that lists the page after: args with
// --cursor set to cursor (any --cursor of args dropped).
func nextPage(prog string, args []string, cursor string) string {
	out := []string{prog, "tasks"}
	for i := 0; i < len(args); i++ {
		switch a := strings.TrimLeft(args[i], "-"); {
		case a == "cursor" && i+1 < len(args):
			i++
		case strings.HasPrefix(a, "cursor="):
		case a == "api-token" && i+1 < len(args): // keep the token off the screen
			i++
		case strings.HasPrefix(a, "api-token="):
		default:
			out = append(out, quote(args[i]))
		}
	}
	return strings.Join(append(out, "--cursor", quote(cursor)), " ")
}

// quote quotes s for a POSIX shell when it holds more than safe characters.
func quote(s string) string {
	safe := s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/=@+") == ""
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// runQueues runs `runq queues`.
func runQueues(ctx context.Context, s *session, args []string) error {
	if _, err := s.parse(s.newFlags(), args, 0, 0); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	qs, err := s.c.Queues(ctx)
	if err != nil {
		return s.failed("list queues", err)
	}
	printQueues(s.stdout, qs)
	return nil
}

// printQueues writes the table of `runq queues`.
func printQueues(w io.Writer, qs []tasks.QueueInfo) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE\tQUEUED\tSCHEDULED\tRUNNING\tSUCCEEDED\tFAILED\tCANCELED\tOLDEST\tDONE/1M\tFAILED/1M\tDONE/1H\tFAILED/1H")
	for _, q := range qs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%d\t%d\t%d\n", q.Name, q.Queued, q.Scheduled, q.Running,
			q.Succeeded, q.Failed, q.Canceled, age(q.OldestQueued), q.Processed1m, q.FailedAttempts1m, q.Processed1h, q.FailedAttempts1h)
	}
	tw.Flush()
}

// age writes a wait: to a tenth of a second under a minute, else to the
// second; "-" for none.
func age(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Truncate(time.Second).String()
}

// runWorkers runs `runq workers`.
func runWorkers(ctx context.Context, s *session, args []string) error {
	if _, err := s.parse(s.newFlags(), args, 0, 0); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	ws, err := s.c.Workers(ctx)
	if err != nil {
		return s.failed("list workers", err)
	}
	now := time.Now()
	tw := tabwriter.NewWriter(s.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHOST\tPID\tQUEUES\tCONCURRENCY\tBATCH-WAIT\tRUNNING\tSTARTED\tHEARTBEAT\tVERSION")
	for _, w := range ws {
		wait := w.BatchWait
		if wait == "" {
			wait = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\n", w.ID, w.Host, strconv.Itoa(w.PID), queuesValue{&w.Queues, &w.Weights},
			w.Concurrency, wait, w.Running, ago(w.StartedAt, now), ago(w.LastHeartbeat, now), w.Version)
	}
	tw.Flush()
	return nil
}

// runSchedules runs `runq schedules`.
func runSchedules(ctx context.Context, s *session, args []string) error {
	if _, err := s.parse(s.newFlags(), args, 0, 0); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	list, err := s.c.Schedules(ctx)
	if err != nil {
		return s.failed("list schedules", err)
	}
	now := time.Now()
	tw := tabwriter.NewWriter(s.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SPEC\tNAME\tQUEUE\tLAST RUN\tLAST TASK\tNEXT RUN\tID")
	for _, sc := range list {
		task := "-"
		if !sc.LastRun.IsZero() {
			task = sc.LastTaskID.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", sc.Spec, sc.Name, sc.Queue, ago(sc.LastRun, now), task, in(sc.NextRun, now), sc.ID)
	}
	tw.Flush()
	return nil
}

// in writes how long until t, to the second; "-" for none.
func in(t, now time.Time) string {
	switch d := t.Sub(now); {
	case t.IsZero():
		return "-"
	case d < time.Second:
		return "now"
	default:
		return "in " + d.Truncate(time.Second).String()
	}
}
