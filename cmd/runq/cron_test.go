package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/runq/runq/cmd/internal/proctest"
	"github.com/runq/runq/results"
)

// TestCronFlag runs `runq` with two --cron schedules: the one of every
// second creates echo tasks that its worker runs, and `runq schedules`
// lists both.
func TestCronFlag(t *testing.T) {
	t.Parallel()
	bin := runqBin.Path(t)
	_, base := proctest.StartAPI(t, bin, "--addr", "127.0.0.1:0",
		"--cron", `@every 1s echo {"from": "cron"}`, "--cron", `CRON_TZ=Europe/Paris 0 9 1 1 * sleep {"ms":1}`)
	env := []string{"RUNQ_API=" + base}
	var rows []map[string]string
	echo := func() map[string]string {
		for _, r := range rows {
			if r["NAME"] == "echo" {
				return r
			}
		}
		return nil
	}
	for deadline := time.Now().Add(10 * time.Second); echo() == nil || echo()["LAST TASK"] == "-"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("runq schedules shows no task of the echo schedule after 10s: %v", rows)
		}
		r := proctest.RunCmd(t, bin, env, nil, "schedules")
		if r.Code != 0 {
			t.Fatalf("runq schedules: exit %d, stderr %s", r.Code, r.Stderr)
		}
		rows = tableColumns(t, r.Stdout, "SPEC", "NAME", "QUEUE", "LAST RUN", "LAST TASK", "NEXT RUN", "ID")
	}
	if len(rows) != 2 {
		t.Fatalf("runq schedules: %d rows, want 2: %v", len(rows), rows)
	}
	if e := echo(); e["SPEC"] != "@every 1s" || e["QUEUE"] != "default" || e["ID"] != "@every 1s echo" ||
		(e["LAST RUN"] != "just now" && !strings.HasSuffix(e["LAST RUN"], " ago")) || (e["NEXT RUN"] != "now" && !strings.HasPrefix(e["NEXT RUN"], "in ")) {
		t.Errorf("runq schedules: echo row %v", e)
	}
	if s := rows[1]; s["SPEC"] != "CRON_TZ=Europe/Paris 0 9 1 1 *" || s["NAME"] != "sleep" || s["LAST RUN"] != "-" || s["LAST TASK"] != "-" ||
		!strings.HasPrefix(s["NEXT RUN"], "in ") {
		t.Errorf("runq schedules: sleep row %v, want never run, next in months", s)
	}

	r := proctest.RunCmd(t, bin, env, nil, "wait", echo()["LAST TASK"])
	var rec results.Record
	if err := json.Unmarshal([]byte(proctest.RunCmd(t, bin, env, nil, "get", echo()["LAST TASK"], "--json").Stdout), &rec); err != nil || r.Code != 0 {
		t.Fatalf("runq wait, get of the echo schedule's task: exit %d, %v", r.Code, err)
	}
	if rec.Status != results.StatusSucceeded || string(rec.Result) != `{"from":"cron"}` || rec.MaxRetries != 3 {
		t.Errorf("the echo schedule's task: %s, result %s, %d retries; want succeeded with its payload, the default 3", rec.Status, rec.Result, rec.MaxRetries)
	}
}

// tableColumns reads a table whose header names columns, aligned as
// text/tabwriter aligns them (a cell may hold spaces), into one map per
// row from column to cell.
func tableColumns(t *testing.T, out string, columns ...string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	starts := make([]int, len(columns))
	for i, c := range columns {
		if starts[i] = strings.Index(lines[0], c); starts[i] < 0 || (i > 0 && starts[i] <= starts[i-1]) {
			t.Fatalf("table header %q, want the columns %q", lines[0], columns)
		}
	}
	var rows []map[string]string
	for _, l := range lines[1:] {
		row := make(map[string]string)
		for i, c := range columns {
			end := len(l)
			if i+1 < len(columns) {
				end = min(starts[i+1], len(l))
			}
			row[c] = strings.TrimSpace(l[min(starts[i], len(l)):end])
		}
		rows = append(rows, row)
	}
	return rows
}
