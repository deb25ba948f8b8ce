package cli

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

// runRetry runs `runq retry`: one task by ID, or with --queue every failed
// task of a queue.
func runRetry(ctx context.Context, s *session, args []string) error {
	if !slices.ContainsFunc(args, isQueueFlag) {
		return s.steer(ctx, args, "retry", "queued again", s.cRetry)
	}
	fs := s.newFlags()
	var queue string
	var status results.Status
	yes := false
	fs.StringVar(&queue, "queue", "", "the `QUEUE` whose failed tasks to queue again (instead of an ID)")
	fs.Var((*stringValue)(&status), "status", "the `STATUS` of the tasks to queue again: failed (required with --queue)")
	fs.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	if _, err := s.parse(fs, args, 0, 0); err != nil {
		return err
	}
	switch {
	case queue == "" || status == "":
		return usage("retry --queue needs --status failed (see " + s.prog + " help retry)")
	case broker.ValidQueue(queue) != nil:
		return usage(fmt.Sprintf("--queue %q: %v", truncate(queue, 40), broker.ValidQueue(queue)))
	case status != results.StatusFailed:
		return usage(fmt.Sprintf("--status %q: a queue's tasks are retried by status failed (a canceled task by its ID)", truncate(string(status), 40)))
	case !yes && !s.inTTY:
		return usage("retry --queue asks for confirmation on a terminal, and stdin is not one: pass --yes to retry without asking")
	}
	if !yes {
		if ok, err := s.confirmRetry(ctx, queue); !ok || err != nil {
			return err
		}
	}
	call, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	n, err := s.c.RetryQueue(call, queue, status)
	if err != nil {
		return s.failed("retry", err)
	}
	fmt.Fprintf(s.stdout, "queued %s of queue %s again\n", plural(int(n), string(status)+" task"), queue)
	return nil
}

// isQueueFlag reports whether a command-line argument is --queue (or
// -queue), with or without its value.
func isQueueFlag(arg string) bool {
	for _, f := range []string{"-queue", "--queue"} {
		if arg == f || len(arg) > len(f) && arg[:len(f)+1] == f+"=" {
			return true
		}
	}
	return false
}

// confirmRetry asks on the terminal whether to queue queue's failed tasks
// again, showing how many there are, and reports the answer; none is a no.
func (s *session) confirmRetry(ctx context.Context, queue string) (bool, error) {
	call, cancel := context.WithTimeout(ctx, callTimeout)
	q, err := s.c.Queue(call, queue)
	cancel()
	if err != nil {
		return false, s.failed("retry", err)
	}
	if q.Failed == 0 {
		fmt.Fprintf(s.stdout, "queue %s holds no failed tasks: nothing to retry\n", queue)
		return false, nil
	}
	fmt.Fprintf(s.stderr, "Queue %s of queue %s again? [y/N] ", plural(int(q.Failed), "failed task"), queue)
	answer, _ := bufio.NewReader(s.stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		fmt.Fprintln(s.stdout, "not retried")
		return false, nil
	}
	return true, nil
}
