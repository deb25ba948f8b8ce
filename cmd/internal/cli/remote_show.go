package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/runq/runq/results"
)

// getCommand is `runq get`.
var getCommand = remoteCommand{
	name: "get", args: "ID", summary: "show a task",
	about: "Shows task ID: its name, queue, status, attempts, times, payload, and its result or error.\n" +
		"With --json it prints the record as the API answers it, for machines.",
	example: "%[1]s get 0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77 --json",
	run:     runGet,
}

// runGet runs `runq get`.
func runGet(ctx context.Context, s *session, args []string) error {
	fs := s.newFlags()
	asJSON := false
	fs.BoolVar(&asJSON, "json", false, "print the record as JSON, as GET /v1/tasks/{id} answers it")
	pos, err := s.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	id, err := parseID(pos[0])
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	rec, err := s.c.Get(ctx, id)
	if err != nil {
		return s.failed("get "+id.String(), err)
	}
	if asJSON {
		raw, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		fmt.Fprintf(s.stdout, "%s\n", raw)
		return nil
	}
	printRecord(s.stdout, rec, time.Now())
	return nil
}

// printRecord writes rec for people, one field a line, times with their
// age as of now, and what is unset left out.
func printRecord(w io.Writer, rec results.Record, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", name, value)
		}
	}
	field("id", rec.ID.String())
	field("name", rec.Name)
	field("queue", rec.Queue)
	field("status", string(rec.Status))
	field("attempts", fmt.Sprintf("%d (max retries %d)", rec.Attempts, rec.MaxRetries))
	if rec.Crashes > 0 {
		field("crashes", fmt.Sprint(rec.Crashes))
	}
	field("timeout", rec.Timeout.String())
	field("result ttl", rec.ResultTTL.String())
	field("created", when(rec.CreatedAt, now))
	field("run at", when(rec.RunAt, now))
	field("started", when(rec.StartedAt, now))
	field("finished", when(rec.FinishedAt, now))
	field("payload", string(rec.Payload))
	field("result", string(rec.Result))
	tw.Flush()
	if rec.Error != "" { // last: it may hold a stack, over many lines
		fmt.Fprintf(w, "error:\n%s\n", indent(rec.Error))
	}
}

// when writes t in local time with its age as of now ("3s ago", or "in 3s"
// for a time to come); "" for the zero time.
func when(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format(time.DateTime) + " (" + ago(t, now) + ")"
}

// ago writes how long before now t was, to the second: "3s ago"; or how
// long after, "in 3s".
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d <= -time.Second:
		return "in " + (-d).Truncate(time.Second).String()
	case d < time.Second:
		return "just now"
	}
	return d.Truncate(time.Second).String() + " ago"
}

// indent starts every line of s with two spaces.
func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}
