package cli

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

// cancelCommand is `runq cancel`.
var cancelCommand = remoteCommand{
	name: "cancel", args: "ID", summary: "cancel a task that has not started",
	about: "Cancels task ID if it has not started (queued or retrying); a task already canceled stays so.\n" +
		"A task that is running or has finished cannot be canceled: that exits 1.",
	example: "%[1]s cancel 0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77",
	run: func(ctx context.Context, s *session, args []string) error {
		return s.steer(ctx, args, "cancel", "canceled", s.cCancel)
	},
}

// retryCommand is `runq retry`.
var retryCommand = remoteCommand{
	name: "retry", args: "ID | --queue Q --status failed", summary: "queue failed or canceled tasks again",
	about: "Queues failed or canceled task ID again, with its id and its attempts so far; a task of\n" +
		"any other status cannot be retried: that exits 1. With --queue and --status failed instead,\n" +
		"queues every failed task of queue Q again (its dead letters), each with its id and attempts,\n" +
		"and prints how many; it first asks on the terminal, as purge does, unless --yes.",
	example: "%[1]s retry 0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77\n  %[1]s retry --queue default --status failed --yes",
	run:     runRetry,
}

func (s *session) cCancel(ctx context.Context, id uuid.UUID) (results.Record, error) {
	return s.c.Cancel(ctx, id)
}

func (s *session) cRetry(ctx context.Context, id uuid.UUID) (results.Record, error) {
	return s.c.Retry(ctx, id)
}

// steer runs a command that takes one task id, calls op on it, and prints
// the id and what was done: done, rather than the status of the record op
// returns, which a worker may have moved on (a retried task, taken again).
func (s *session) steer(ctx context.Context, args []string, verb, done string, op func(context.Context, uuid.UUID) (results.Record, error)) error {
	pos, err := s.parse(s.newFlags(), args, 1, 1)
	if err != nil {
		return err
	}
	id, err := parseID(pos[0])
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := op(ctx, id); err != nil {
		return s.failed(verb+" "+id.String(), err)
	}
	fmt.Fprintf(s.stdout, "%s %s\n", id, done)
	return nil
}

// purgeCommand is `runq purge`.
var purgeCommand = remoteCommand{
	name: "purge", args: "--queue Q --status S", summary: "delete a queue's tasks of one status",
	about: "Deletes the tasks of queue Q whose status is S (failed, canceled, succeeded or queued), and\n" +
		"prints how many. It first asks on the terminal, showing how many there are, unless --yes;\n" +
		"without a terminal to ask on and without --yes it refuses (exit 2).",
	example: "%[1]s purge --queue default --status failed --yes",
	run:     runPurge,
}

// purgeable are the statuses purge takes.
var purgeable = []results.Status{results.StatusFailed, results.StatusCanceled, results.StatusSucceeded, results.StatusQueued}

// runPurge runs `runq purge`.
func runPurge(ctx context.Context, s *session, args []string) error {
	fs := s.newFlags()
	var queue string
	var status results.Status
	yes := false
	fs.StringVar(&queue, "queue", "", "the `QUEUE` to purge (required)")
	fs.Var((*stringValue)(&status), "status", "the `STATUS` of the tasks to delete: failed, canceled, succeeded or queued (required)")
	fs.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	if _, err := s.parse(fs, args, 0, 0); err != nil {
		return err
	}
	switch {
	case queue == "" || status == "":
		return usage("purge needs --queue and --status (see " + s.prog + " help purge)")
	case broker.ValidQueue(queue) != nil:
		return usage(fmt.Sprintf("--queue %q: %v", truncate(queue, 40), broker.ValidQueue(queue)))
	case !slices.Contains(purgeable, status):
		return usage(fmt.Sprintf("--status %q: purge takes failed, canceled, succeeded or queued", truncate(string(status), 40)))
	case !yes && !s.inTTY:
		return usage("purge asks for confirmation on a terminal, and stdin is not one: pass --yes to purge without asking")
	}
	if !yes {
		if ok, err := s.confirmPurge(ctx, queue, status); !ok || err != nil {
			return err
		}
	}
	call, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	n, err := s.c.Purge(call, queue, status)
	if err != nil {
		return s.failed("purge", err)
	}
	fmt.Fprintf(s.stdout, "purged %s of queue %s\n", plural(int(n), string(status)+" task"), queue)
	return nil
}

// confirmPurge asks on the terminal whether to purge, showing how many
// tasks would go, and reports the answer; nothing to purge is a no.
func (s *session) confirmPurge(ctx context.Context, queue string, status results.Status) (bool, error) {
	call, cancel := context.WithTimeout(ctx, callTimeout)
	q, err := s.c.Queue(call, queue)
	cancel()
	if err != nil {
		return false, s.failed("purge", err)
	}
	n := map[results.Status]int64{results.StatusFailed: q.Failed, results.StatusCanceled: q.Canceled,
		results.StatusSucceeded: q.Succeeded, results.StatusQueued: q.Queued}[status]
	if n == 0 {
		fmt.Fprintf(s.stdout, "queue %s holds no %s tasks: nothing to purge\n", queue, status)
		return false, nil
	}
	fmt.Fprintf(s.stderr, "Purge %s of queue %s? [y/N] ", plural(int(n), string(status)+" task"), queue)
	answer, _ := bufio.NewReader(s.stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		fmt.Fprintln(s.stdout, "not purged")
		return false, nil
	}
	return true, nil
}
