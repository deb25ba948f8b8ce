package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/runq/runq/tasks"
)

// cronLine is one --cron: a schedule's spec, and the name and payload of
// the task each of its ticks creates.
type cronLine struct {
	spec, name string
	payload    json.RawMessage // nil: null
}

// cronValue is the repeatable --cron flag: each use adds a schedule, and
// its environment twin holds one schedule per line.
type cronValue []string

func (v *cronValue) String() string { return strings.Join(*v, "\n") }
func (v *cronValue) Set(s string) error {
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimSpace(line) != "" {
			*v = append(*v, line)
		}
	}
	return nil
}

// parseCronLine reads 'SPEC NAME [JSON]'. The spec is a descriptor (one
// field, two for @every), or 5 or 6 cron fields, after an optional
// CRON_TZ= or TZ= zone; the name is the next field, and the rest of the
// line, if any, is the payload. When 5 and 6 fields both read well, the
// line is ambiguous and refused.
func parseCronLine(line string) (cronLine, error) {
	spans := fieldSpans(line)
	zone := 0
	if len(spans) > 0 {
		first := line[spans[0][0]:spans[0][1]]
		if strings.HasPrefix(first, "CRON_TZ=") || strings.HasPrefix(first, "TZ=") {
			zone = 1
		}
	}
	form := errors.New(`want 'SPEC NAME [JSON]', such as '@every 1m report.send' or '0 9 * * MON-FRI digest {"to":"ops"}'`)
	if len(spans) <= zone {
		return cronLine{}, form
	}
	sizes := []int{5, 6}
	switch head := line[spans[zone][0]:spans[zone][1]]; {
	case head == "@every":
		sizes = []int{2}
	case strings.HasPrefix(head, "@"):
		sizes = []int{1}
	}
	var good []cronLine
	why := form
	depth := -1 // how far the reading that explains why got: a later part's error says more
	for _, n := range sizes {
		cl, d, err := readCron(line, spans, zone+n)
		if err == nil {
			good = append(good, cl)
		} else if d > depth {
			why, depth = err, d
		}
	}
	switch len(good) {
	case 0:
		return cronLine{}, why
	case 1:
		return good[0], nil
	}
	return cronLine{}, fmt.Errorf("ambiguous: it reads as the spec %q for the task %s, or as %q for %s; write it so that one reading alone works",
		good[0].spec, good[0].name, good[1].spec, good[1].name)
}

// readCron reads line as a spec of its first k fields, then the name and
// the payload. On error it also returns how far it got: 0 the spec, 1 the
// name, 2 the payload. A line of k fields or fewer is a spec without a
// name when it is a spec, else its last field is taken for the name, so
// that the error is the spec's.
func readCron(line string, spans [][2]int, k int) (cronLine, int, error) {
	noName := errors.New("no task name after the schedule: want 'SPEC NAME [JSON]'")
	if k >= len(spans) {
		if tasks.ValidSpec(line) == nil {
			return cronLine{}, 1, noName
		}
		if err := specError(line[:spans[len(spans)-1][0]]); err != nil {
			return cronLine{}, 0, err
		}
		return cronLine{}, -1, noName // the reading of fewer fields is the one
	}
	spec := strings.Join(strings.Fields(line[:spans[k-1][1]]), " ")
	if err := specError(spec); err != nil {
		return cronLine{}, 0, err
	}
	name := line[spans[k][0]:spans[k][1]]
	if err := tasks.ValidName(name); err != nil {
		return cronLine{}, 1, errors.New(strings.TrimPrefix(err.Error(), tasks.ErrInvalid.Error()+": "))
	}
	cl := cronLine{spec: spec, name: name}
	if rest := strings.TrimSpace(line[spans[k][1]:]); rest != "" {
		if !json.Valid([]byte(rest)) {
			return cronLine{}, 2, fmt.Errorf("the payload after the task name %s is not valid JSON: %s", name, truncate(rest, 40))
		}
		cl.payload = json.RawMessage(rest)
	}
	return cl, 0, nil
}

// specError is tasks.ValidSpec's error in the words of a flag's: without
// the "invalid request" of a submission.
func specError(spec string) error {
	if err := tasks.ValidSpec(spec); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), tasks.ErrInvalid.Error()+": "))
	}
	return nil
}

// fieldSpans returns where the fields of s, separated by white space,
// begin and end.
func fieldSpans(s string) [][2]int {
	var out [][2]int
	start := -1
	for i, c := range s {
		switch {
		case unicode.IsSpace(c) && start >= 0:
			out = append(out, [2]int{start, i})
			start = -1
		case !unicode.IsSpace(c) && start < 0:
			start = i
		}
	}
	if start >= 0 {
		out = append(out, [2]int{start, len(s)})
	}
	return out
}
