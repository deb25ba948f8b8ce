package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/cmd/internal/proctest"
	"github.com/runq/runq/results"
)

// cliSetup is a running `runq all` with a token, and the built binary to
// run client commands against it.
type cliSetup struct {
	bin, base string
	env       []string // RUNQ_API and RUNQ_API_TOKEN of the server
}

// newCLISetup starts `runq all` on loopback, on its embedded Redis, with
// the API token "tok".
func newCLISetup(t *testing.T) cliSetup {
	t.Helper()
	bin := runqBin.Path(t)
	_, base := proctest.StartAPI(t, bin, "--addr", "127.0.0.1:0", "--api-token", "tok")
	return cliSetup{bin: bin, base: base, env: []string{"RUNQ_API=" + base, "RUNQ_API_TOKEN=tok"}}
}

// run runs a client command against the server, with stdin (nil: none).
func (s cliSetup) run(t *testing.T, stdin io.Reader, args ...string) proctest.Result {
	t.Helper()
	return proctest.RunCmd(t, s.bin, s.env, stdin, args...)
}

// want runs a client command and fails the test unless it exits with code.
func (s cliSetup) want(t *testing.T, code int, args ...string) proctest.Result {
	t.Helper()
	r := s.run(t, nil, args...)
	if r.Code != code {
		t.Fatalf("runq %q: exit code %d, want %d\nstdout: %s\nstderr: %s", args, r.Code, code, r.Stdout, r.Stderr)
	}
	return r
}

// submit runs `runq submit` without --wait and returns the id it prints.
func (s cliSetup) submit(t *testing.T, args ...string) uuid.UUID {
	t.Helper()
	r := s.want(t, 0, append([]string{"submit"}, args...)...)
	id, err := uuid.Parse(strings.TrimSpace(r.Stdout))
	if err != nil {
		t.Fatalf("runq submit %q: stdout %q, want a task id", args, r.Stdout)
	}
	return id
}

// record runs `runq get ID --json` and decodes the record.
func (s cliSetup) record(t *testing.T, id uuid.UUID) results.Record {
	t.Helper()
	var rec results.Record
	r := s.want(t, 0, "get", id.String(), "--json")
	if err := json.Unmarshal([]byte(r.Stdout), &rec); err != nil || rec.ID != id {
		t.Fatalf("runq get %s --json: %q does not decode as its record: %v", id, r.Stdout, err)
	}
	return rec
}

// TestClientCommandsSubmit runs submit, wait and get of the built binary
// against a running server.
func TestClientCommandsSubmit(t *testing.T) {
	t.Parallel()
	s := newCLISetup(t)
	t.Run("submit --wait echo prints the result", func(t *testing.T) {
		t.Parallel()
		r := s.want(t, 0, "submit", "echo", `{"hello":"world"}`, "--wait")
		if r.Stdout != "{\"hello\":\"world\"}\n" {
			t.Errorf("stdout = %q, want the result JSON", r.Stdout)
		}
		// Not a terminal: one plain line per status, none redrawn.
		if !regexp.MustCompile(`(?m)^task \S+ succeeded \(attempt 1\) \d+\.\ds$`).MatchString(r.Stderr) || strings.Contains(r.Stderr, "\r") {
			t.Errorf("stderr = %q, want plain status lines ending in succeeded", r.Stderr)
		}
	})
	t.Run("submit --broadcast --wait prints every worker's answer", func(t *testing.T) {
		t.Parallel()
		var r proctest.Result
		for deadline := time.Now().Add(10 * time.Second); ; { // until the worker reports itself
			if r = s.run(t, nil, "submit", "echo", `"hi"`, "--broadcast", "--wait"); r.Code == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		var out results.BroadcastResults
		if err := json.Unmarshal([]byte(r.Stdout), &out); r.Code != 0 || err != nil || out.Targets != 1 || len(out.Workers) != 1 {
			t.Fatalf("runq submit --broadcast --wait = %d, %q (stderr %q); want the answers of the one worker", r.Code, r.Stdout, r.Stderr)
		}
		for _, a := range out.Workers {
			if a.Status != results.WorkerSucceeded || string(a.Result) != `"hi"` {
				t.Errorf("answer = %+v, want succeeded with \"hi\"", a)
			}
		}
	})
	t.Run("submit --wait of fail exits 1", func(t *testing.T) {
		t.Parallel()
		r := s.want(t, 1, "submit", "fail", `{"message":"boom"}`, "--max-retries", "0", "--wait")
		if r.Stdout != "" || !strings.Contains(r.Stderr, "failed after 1 attempt: attempt 1: boom") {
			t.Errorf("stdout, stderr = %q, %q; want nothing, and the task's error", r.Stdout, r.Stderr)
		}
	})
	t.Run("payload from stdin and from a file", func(t *testing.T) {
		t.Parallel()
		r := s.run(t, strings.NewReader(" {\"from\": \"stdin\"}\n"), "submit", "--wait", "echo", "-")
		if r.Code != 0 || r.Stdout != "{\"from\":\"stdin\"}\n" {
			t.Errorf("submit echo - = %d, %q (stderr %q); want 0 and the payload back", r.Code, r.Stdout, r.Stderr)
		}
		file := filepath.Join(t.TempDir(), "in.json")
		if err := os.WriteFile(file, []byte(`[1, 2]`), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := s.want(t, 0, "submit", "echo", "@"+file, "--wait"); r.Stdout != "[1,2]\n" {
			t.Errorf("submit echo @file: stdout %q, want [1,2]", r.Stdout)
		}
	})
	t.Run("wait and get", func(t *testing.T) {
		t.Parallel()
		id := s.submit(t, "sleep", `{"ms":300}`, "--timeout", "10s", "--queue", "default")
		if r := s.want(t, 0, "wait", id.String(), "--timeout", "20s"); r.Stdout != "{\"slept_ms\":300}\n" {
			t.Errorf("wait: stdout %q, want the result", r.Stdout)
		}
		r := s.want(t, 0, "get", id.String())
		for _, want := range []string{"id:", id.String(), "status:      succeeded", "attempts:    1 (max retries 3)", "timeout:     10s", `payload:     {"ms":300}`, "finished:"} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("get: stdout does not contain %q:\n%s", want, r.Stdout)
			}
		}
		if rec := s.record(t, id); rec.Status != results.StatusSucceeded || string(rec.Result) != `{"slept_ms":300}` {
			t.Errorf("get --json = %+v, want succeeded with its result", rec)
		}
	})
	t.Run("submit --delay holds the task back", func(t *testing.T) {
		t.Parallel()
		id := s.submit(t, "echo", `"later"`, "--delay", "1h", "--queue", "default")
		r := s.want(t, 0, "get", id.String())
		for _, want := range []string{"status:      scheduled", "run at:", "(in 59m"} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("get of a delayed task: stdout does not contain %q:\n%s", want, r.Stdout)
			}
		}
		soon := s.submit(t, "echo", `"soon"`, "--run-at", time.Now().Add(300*time.Millisecond).Format(time.RFC3339Nano))
		if r := s.want(t, 0, "wait", soon.String(), "--timeout", "20s"); r.Stdout != "\"soon\"\n" {
			t.Errorf("wait for a task with --run-at: stdout %q, want its result", r.Stdout)
		}
	})
	t.Run("wait gives up at its timeout", func(t *testing.T) {
		t.Parallel()
		id := s.submit(t, "echo", "--queue", "nobody.waits")
		if r := s.want(t, 1, "wait", id.String(), "--timeout", "700ms"); !strings.Contains(r.Stderr, "is still queued") {
			t.Errorf("wait past its timeout: stderr %q, want it to tell the task is still queued", r.Stderr)
		}
	})
}

// TestClientCommandsSteer runs cancel, retry, the tables and purge of the
// built binary against a running server.
func TestClientCommandsSteer(t *testing.T) {
	t.Parallel()
	s := newCLISetup(t)
	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		id := s.submit(t, "echo", "--queue", "nobody.cancels") // no worker takes it
		if r := s.want(t, 0, "cancel", id.String()); r.Stdout != id.String()+" canceled\n" {
			t.Errorf("cancel: stdout %q, want the id and canceled", r.Stdout)
		}
		done := s.submit(t, "echo")
		s.want(t, 0, "wait", done.String())
		if r := s.want(t, 1, "cancel", done.String()); !strings.Contains(r.Stderr, "already finished") || !strings.Contains(r.Stderr, "HTTP 409") {
			t.Errorf("cancel of a finished task: stderr %q, want the API's message", r.Stderr)
		}
	})
	t.Run("retry", func(t *testing.T) {
		t.Parallel()
		id := s.submit(t, "fail", "--max-retries", "0")
		s.want(t, 1, "wait", id.String())
		if r := s.want(t, 0, "retry", id.String()); r.Stdout != id.String()+" queued again\n" {
			t.Errorf("retry: stdout %q, want the id, queued again", r.Stdout)
		}
		s.want(t, 1, "wait", id.String())
		if rec := s.record(t, id); rec.Status != results.StatusFailed || rec.Attempts != 2 {
			t.Errorf("after retry: %s after %d attempts, want failed after 2", rec.Status, rec.Attempts)
		}
		// Every failed task of the queue at once: this one, at least.
		r := s.want(t, 0, "retry", "--queue", "default", "--status", "failed", "--yes")
		if !regexp.MustCompile(`^queued [1-9][0-9]* failed tasks? of queue default again\n$`).MatchString(r.Stdout) {
			t.Errorf("retry --queue: stdout %q, want the count queued again", r.Stdout)
		}
		s.want(t, 1, "wait", id.String())
		if rec := s.record(t, id); rec.Status != results.StatusFailed || rec.Attempts != 3 {
			t.Errorf("after retry --queue: %s after %d attempts, want failed after 3", rec.Status, rec.Attempts)
		}
		ok := s.submit(t, "echo")
		s.want(t, 0, "wait", ok.String())
		if r := s.want(t, 1, "retry", ok.String()); !strings.Contains(r.Stderr, "HTTP 409") {
			t.Errorf("retry of a succeeded task: stderr %q, want the API's 409", r.Stderr)
		}
	})
	t.Run("tables and purge", func(t *testing.T) {
		t.Parallel()
		checkTables(t, s)
	})
}

// TestClientCommandsQueue sets, shows and clears a queue's limits, and
// pauses and resumes it, with the built binary against a running server.
func TestClientCommandsQueue(t *testing.T) {
	t.Parallel()
	s := newCLISetup(t)
	settings := func(args ...string) map[string]string {
		t.Helper()
		out := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(s.want(t, 0, append([]string{"queue"}, args...)...).Stdout), "\n") {
			k, v, _ := strings.Cut(l, ":")
			out[k] = strings.TrimSpace(v)
		}
		return out
	}
	if got := settings("bounded"); got["max length"] != "none" || got["max running"] != "none" || got["paused"] != "no" || got["queued"] != "0" {
		t.Errorf("queue bounded, never set: %q, want no limits, not paused, nothing queued", got)
	}
	if got := settings("bounded", "--max-length", "1", "--max-running", "3"); got["max length"] != "1" || got["max running"] != "3" {
		t.Errorf("queue bounded --max-length 1 --max-running 3: %q", got)
	}
	s.submit(t, "echo", "--queue", "bounded") // no worker takes bounded
	if r := s.want(t, 1, "submit", "echo", "--queue", "bounded"); !strings.Contains(r.Stderr, "queue bounded has no room (max_length 1)") || !strings.Contains(r.Stderr, "HTTP 429") {
		t.Errorf("submit into a full queue: stderr %q, want the API's 429 naming the queue", r.Stderr)
	}
	if got := settings("bounded"); got["max length"] != "1" || got["queued"] != "1" {
		t.Errorf("queue bounded once full: %q, want max length 1 and 1 queued", got)
	}
	if got := settings("bounded", "--max-length=0"); got["max length"] != "none" || got["max running"] != "3" {
		t.Errorf("queue bounded --max-length=0: %q, want the bound gone and max running kept", got)
	}
	s.submit(t, "echo", "--queue", "bounded")

	if r := s.want(t, 0, "pause", "bounded"); r.Stdout != "queue bounded paused\n" {
		t.Errorf("pause: stdout %q", r.Stdout)
	}
	if got := settings("bounded"); got["paused"] != "yes" {
		t.Errorf("queue bounded after pause: %q, want paused", got)
	}
	if r := s.want(t, 0, "resume", "bounded"); r.Stdout != "queue bounded resumed\n" {
		t.Errorf("resume: stdout %q", r.Stdout)
	}
	if got := settings("bounded"); got["paused"] != "no" {
		t.Errorf("queue bounded after resume: %q, want not paused", got)
	}
	// A refused change changes nothing.
	s.want(t, 2, "queue", "bounded", "--max-running", "-2")
	if got := settings("bounded"); got["max running"] != "3" {
		t.Errorf("queue bounded after a refused change: %q, want max running still 3", got)
	}
}

// checkTables fills a queue no worker takes, then checks the tasks,
// queues and workers tables, and purges the queue.
func checkTables(t *testing.T, s cliSetup) {
	var ids []string
	for range 3 {
		ids = append(ids, s.submit(t, "echo", "--queue", "tables").String())
	}
	r := s.want(t, 0, "tasks", "--queue", "tables")
	if rows := tableRows(t, r.Stdout, "ID NAME QUEUE STATUS ATTEMPTS CREATED"); len(rows) != 3 ||
		rows[0][0] != ids[2] || rows[2][0] != ids[0] || rows[0][1] != "echo" || rows[0][2] != "tables" || rows[0][3] != "queued" || rows[0][4] != "0" {
		t.Errorf("tasks --queue tables: rows %q, want the 3 tasks, newest first", rows)
	}
	r = s.want(t, 0, "tasks", "--queue", "tables", "--limit", "2")
	m := regexp.MustCompile(`more: runq tasks --queue tables --limit 2 --cursor (\S+)`).FindStringSubmatch(r.Stderr)
	if len(tableRows(t, r.Stdout, "ID")) != 2 || m == nil {
		t.Fatalf("tasks --limit 2: stdout %q, stderr %q; want 2 rows and the next page's command", r.Stdout, r.Stderr)
	}
	r = s.want(t, 0, "tasks", "--queue", "tables", "--limit", "2", "--cursor", strings.Trim(m[1], "'"))
	if rows := tableRows(t, r.Stdout, "ID"); len(rows) != 1 || rows[0][0] != ids[0] {
		t.Errorf("tasks, second page: rows %q, want the oldest task", rows)
	}

	r = s.want(t, 0, "queues")
	want := []string{"tables", "3", "0", "0", "0", "0", "0"}
	if row := findRow(tableRows(t, r.Stdout, "QUEUE QUEUED SCHEDULED RUNNING SUCCEEDED FAILED CANCELED OLDEST"), "tables"); len(row) < 7 || strings.Join(row[:7], " ") != strings.Join(want, " ") {
		t.Errorf("queues: row of tables %q, want it to start %q\n%s", row, want, r.Stdout)
	}
	host, _ := os.Hostname()
	r = s.want(t, 0, "workers")
	if rows := tableRows(t, r.Stdout, "ID HOST PID QUEUES CONCURRENCY BATCH-WAIT RUNNING"); len(rows) != 1 || rows[0][1] != host || rows[0][3] != "default" || rows[0][5] != "-" {
		t.Errorf("workers: rows %q, want this host's worker on default, claiming at once", rows)
	}

	if r := s.want(t, 2, "purge", "--queue", "tables", "--status", "queued"); !strings.Contains(r.Stderr, "--yes") {
		t.Errorf("purge without a terminal or --yes: stderr %q, want it to ask for --yes", r.Stderr)
	}
	if r := s.want(t, 0, "purge", "--queue", "tables", "--status", "queued", "--yes"); r.Stdout != "purged 3 queued tasks of queue tables\n" {
		t.Errorf("purge --yes: stdout %q, want the count", r.Stdout)
	}
	if rows := tableRows(t, s.want(t, 0, "tasks", "--queue", "tables").Stdout, "ID"); len(rows) != 0 {
		t.Errorf("tasks after purge: rows %q, want none", rows)
	}
}

// tableRows splits a table into the fields of its rows, failing the test
// unless its header starts with header's words.
func tableRows(t *testing.T, out, header string) [][]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if !strings.HasPrefix(strings.Join(strings.Fields(lines[0]), " "), header) {
		t.Fatalf("table header %q, want it to start %q", lines[0], header)
	}
	var rows [][]string
	for _, l := range lines[1:] {
		rows = append(rows, strings.Fields(l))
	}
	return rows
}

// findRow returns the row whose first field is name.
func findRow(rows [][]string, name string) []string {
	for _, r := range rows {
		if len(r) > 0 && r[0] == name {
			return r
		}
	}
	return nil
}

// TestClientCommandsAPI checks how the commands find the API and its
// token, and what they say when it refuses them or is not there.
func TestClientCommandsAPI(t *testing.T) {
	t.Parallel()
	s := newCLISetup(t)
	id := s.submit(t, "echo")
	flags := proctest.RunCmd(t, s.bin, nil, nil, "get", id.String(), "--api", s.base, "--api-token", "tok")
	if flags.Code != 0 {
		t.Errorf("get with --api and --api-token: exit %d, stderr %q; want 0", flags.Code, flags.Stderr)
	}
	wrong := proctest.RunCmd(t, s.bin, []string{"RUNQ_API=" + s.base, "RUNQ_API_TOKEN=wrong"}, nil, "get", id.String())
	if wrong.Code != 1 || !strings.Contains(wrong.Stderr, "HTTP 401") {
		t.Errorf("get with a wrong token: exit %d, stderr %q; want 1 and the API's 401", wrong.Code, wrong.Stderr)
	}
	wins := proctest.RunCmd(t, s.bin, []string{"RUNQ_API=" + s.base, "RUNQ_API_TOKEN=wrong"}, nil, "get", id.String(), "--api-token=tok")
	if wins.Code != 0 {
		t.Errorf("get with --api-token over a wrong RUNQ_API_TOKEN: exit %d, stderr %q; want 0", wins.Code, wins.Stderr)
	}
	gone := proctest.RunCmd(t, s.bin, []string{"RUNQ_API=http://127.0.0.1:1"}, nil, "get", id.String())
	if gone.Code != 1 || !strings.Contains(gone.Stderr, "cannot reach the runq API at http://127.0.0.1:1") {
		t.Errorf("get from no API: exit %d, stderr %q; want 1, cannot reach", gone.Code, gone.Stderr)
	}
}

// TestClientCommandsUsage runs bad command lines against an API that
// counts requests: each exits 2 with one plain line and sends nothing.
func TestClientCommandsUsage(t *testing.T) {
	t.Parallel()
	bin := runqBin.Path(t)
	var requests atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, `{"error":"not runq"}`, http.StatusTeapot)
	}))
	t.Cleanup(api.Close)
	id := uuid.NewString()
	tests := []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"submit"}, "submit needs NAME"},
		{[]string{"submit", "echo", "{bad"}, "the payload is not JSON"},
		{[]string{"submit", "echo", "@/nonexistent/in.json"}, "cannot read the payload"},
		{[]string{"submit", "bad name"}, `task name "bad name"`},
		{[]string{"submit", "echo", "--queue", "a b"}, "invalid request"},
		{[]string{"submit", "echo", "--max-retries", "x"}, `--max-retries "x": not a whole number`},
		{[]string{"submit", "echo", "--timeout", "soon"}, `--timeout "soon": not a duration`},
		{[]string{"submit", "echo", "1", "2"}, `unexpected argument "2"`},
		{[]string{"submit", "echo", "--delay", "soon"}, `--delay "soon": not a duration`},
		{[]string{"submit", "echo", "--delay", "-1s"}, "delay -1s: must be 0 to"},
		{[]string{"submit", "echo", "--run-at", "tomorrow"}, `--run-at "tomorrow": not an RFC 3339 time`},
		{[]string{"submit", "echo", "--run-at", "2030-01-02T15:04:05Z", "--delay", "1s"}, "give one or the other"},
		{[]string{"submit", "echo", "--nope"}, "unknown flag --nope"},
		{[]string{"get", "not-a-uuid"}, `"not-a-uuid" is not a task id`},
		{[]string{"get"}, "get needs ID"},
		{[]string{"wait", "x"}, "is not a task id"},
		{[]string{"cancel", "x"}, "is not a task id"},
		{[]string{"retry", id, id}, "unexpected argument"},
		{[]string{"tasks", "--status", "done"}, `--status "done"`},
		{[]string{"tasks", "--limit", "0"}, "--limit must be 1 to 1000"},
		{[]string{"tasks", "--limit", "1001"}, "--limit must be 1 to 1000"},
		{[]string{"tasks", "--queue", "a b"}, `--queue "a b"`},
		{[]string{"queues", "extra"}, `unexpected argument "extra"`},
		{[]string{"purge", "--queue", "q"}, "purge needs --queue and --status"},
		{[]string{"purge", "--queue", "q", "--status", "running"}, "purge takes failed, canceled, succeeded or queued"},
		{[]string{"purge", "--queue", "q", "--status", "failed"}, "pass --yes"},
		{[]string{"retry", "--queue", "q"}, "retry --queue needs --status failed"},
		{[]string{"retry", "--queue=q", "--status", "canceled"}, "retried by status failed"},
		{[]string{"retry", "--queue", "q", "--status", "failed"}, "pass --yes"},
		{[]string{"get", id, "--api", "ftp://x"}, `--api "ftp://x"`},
		{[]string{"queue"}, "queue needs QUEUE"},
		{[]string{"queue", "a b"}, `queue "a b": use 1-64 letters`},
		{[]string{"queue", "q", "extra"}, `unexpected argument "extra"`},
		{[]string{"queue", "q", "--max-length", "-1"}, "--max-length -1: want 1 to 1000000000, or 0 to remove it"},
		{[]string{"queue", "q", "--max-running", "1000001"}, "--max-running 1000001: want 1 to 1000000"},
		{[]string{"queue", "q", "--max-length", "ten"}, `--max-length "ten": not a whole number`},
		{[]string{"pause"}, "pause needs QUEUE"},
		{[]string{"resume", "a{b}"}, `queue "a{b}"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			r := proctest.RunCmd(t, bin, []string{"RUNQ_API=" + api.URL}, nil, tt.args...)
			if r.Code != 2 || r.Stdout != "" || !strings.HasPrefix(r.Stderr, "runq: ") || strings.Count(r.Stderr, "\n") != 1 || !strings.Contains(r.Stderr, tt.want) {
				t.Errorf("runq %q: exit %d, stdout %q, stderr %q; want 2, nothing, and one line containing %q", tt.args, r.Code, r.Stdout, r.Stderr, tt.want)
			}
		})
	}
	t.Cleanup(func() {
		if n := requests.Load(); n != 0 {
			t.Errorf("bad command lines sent %d requests, want none", n)
		}
	})
}

// TestClientCommandsHelp checks the list of commands and each client
// command's help.
func TestClientCommandsHelp(t *testing.T) {
	t.Parallel()
	bin := runqBin.Path(t)
	list := proctest.RunCmd(t, bin, nil, nil, "help").Stdout
	for _, c := range []string{"submit NAME [JSON | @file | -]", "wait ID", "get ID", "cancel ID", "retry ID", "tasks", "queues", "workers", "schedules", "purge --queue Q --status S",
		"queue QUEUE", "pause QUEUE", "resume QUEUE"} {
		if !strings.Contains(list, "runq "+c) {
			t.Errorf("runq help does not list %q:\n%s", c, list)
		}
		name, _, _ := strings.Cut(c, " ")
		r := proctest.RunCmd(t, bin, nil, nil, "help", name)
		if r.Code != 0 || !strings.Contains(r.Stdout, "Usage: runq "+c) || !strings.Contains(r.Stdout, "--api URL") || !strings.Contains(r.Stdout, "Example:\n  runq "+name) {
			t.Errorf("runq help %s: exit %d, stdout:\n%s", name, r.Code, r.Stdout)
		}
	}
}
