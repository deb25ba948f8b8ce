package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/results"
)

func TestParseInterspersed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		pos  []string
		wait bool
		q    string
	}{
		{[]string{"echo", `{"a":1}`, "--wait"}, []string{"echo", `{"a":1}`}, true, ""},
		{[]string{"--queue", "q", "echo", "-", "--wait"}, []string{"echo", "-"}, true, "q"},
		{[]string{"echo", "--", "-1"}, []string{"echo", "-1"}, false, ""},
		{[]string{"--wait", "--", "--queue", "x"}, []string{"--queue", "x"}, true, ""},
		{nil, nil, false, ""},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		wait := fs.Bool("wait", false, "")
		q := fs.String("queue", "", "")
		pos, err := parseInterspersed(fs, tt.args)
		if err != nil || !reflect.DeepEqual(pos, tt.pos) || *wait != tt.wait || *q != tt.q {
			t.Errorf("parseInterspersed(%q) = %q, %v (wait %v, queue %q); want %q (wait %v, queue %q)", tt.args, pos, err, *wait, *q, tt.pos, tt.wait, tt.q)
		}
	}
}

// TestStatusLine checks the two ways a followed task is shown: redrawn in
// place on a terminal, a line per status elsewhere.
func TestStatusLine(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77")
	recs := []results.Record{
		{ID: id, Status: results.StatusQueued, MaxRetries: 3},
		{ID: id, Status: results.StatusRunning, Attempts: 1, MaxRetries: 3},
		{ID: id, Status: results.StatusRunning, Attempts: 1, MaxRetries: 3},
		{ID: id, Status: results.StatusFailed, Attempts: 1, MaxRetries: 3},
	}
	for _, tty := range []bool{false, true} {
		var out bytes.Buffer
		l := statusLine{s: &session{stderr: &out, errTTY: tty}, began: time.Now()}
		for _, r := range recs {
			l.show(r)
			l.spin()
		}
		l.end()
		got := out.String()
		if !tty {
			want := "task " + id.String() + " queued 0.0s\n" +
				"task " + id.String() + " running (attempt 1) 0.0s\n" +
				"task " + id.String() + " failed (attempt 1) 0.0s\n"
			if got != want {
				t.Errorf("not a terminal: %q, want %q", got, want)
			}
			continue
		}
		if strings.Count(got, "\r") != 2*len(recs) || strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "✗ task "+id.String()+" failed (attempt 1) 0.0s\n") ||
			!strings.Contains(got, "failed (attempt 1) 0.0s \r") {
			t.Errorf("terminal: %q, want %d redraws, a shorter line blanking what the longer left, and one newline at the end", got, 2*len(recs))
		}
	}
}

func TestNextPage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{nil, "runq tasks --cursor c1"},
		{[]string{"--queue", "q", "--cursor", "old", "--limit=5"}, "runq tasks --queue q --limit=5 --cursor c1"},
		{[]string{"--cursor=old", "--api-token", "s3cret", "--name", "it's"}, `runq tasks --name 'it'\''s' --cursor c1`},
		{[]string{"-api-token=s3cret", "--status", "failed"}, "runq tasks --status failed --cursor c1"},
	}
	for _, tt := range tests {
		if got := nextPage("runq", tt.args, "c1"); got != tt.want {
			t.Errorf("nextPage(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestPrintRecord(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := results.Record{
		ID: uuid.MustParse("0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77"), Name: "fail", Queue: "default", Status: results.StatusFailed,
		Payload: json.RawMessage(`{"message":"boom"}`), Error: "attempt 1: boom\nstack line", Attempts: 1, Timeout: time.Minute,
		ResultTTL: time.Hour, CreatedAt: now.Add(-3 * time.Second), RunAt: now.Add(90 * time.Second),
	}
	var out bytes.Buffer
	printRecord(&out, rec, now)
	for _, want := range []string{
		"id:          0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77\n", "status:      failed\n", "attempts:    1 (max retries 0)\n",
		"timeout:     1m0s\n", "(3s ago)\n", "run at:", "(in 1m30s)\n", `payload:     {"message":"boom"}` + "\n", "error:\n  attempt 1: boom\n  stack line\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("printRecord: %q does not contain %q", out.String(), want)
		}
	}
	for _, not := range []string{"started:", "finished:", "result:", "crashes:"} {
		if strings.Contains(out.String(), not) {
			t.Errorf("printRecord: %q contains %q, unset", out.String(), not)
		}
	}
}

func TestAge(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{0: "-", 340 * time.Millisecond: "300ms", 17*time.Second + 940*time.Millisecond: "17.9s",
		90*time.Second + 600*time.Millisecond: "1m30s", 26 * time.Hour: "26h0m0s"} {
		if got := age(d); got != want {
			t.Errorf("age(%s) = %q, want %q", d, got, want)
		}
	}
}
