package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/runq/runq/api/internal/wirejson"
)

// FuzzDecodeRequest checks that no body panics decodeRequest, that every
// refusal is a 400 with a message free of Go internals, and that anything
// accepted names a task and, re-encoded, decodes to the same request.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"name":"echo","payload":{"a":[1,2,{"b":null}]},"queue":"q","max_retries":2,"timeout":"30s","result_ttl":"1h"}`,
		`{"name":"echo"}`, `{"name":"echo"}}`, `{"name":"echo"}]`, `{"NAME":"x"}`, `{"name":"a","name":"b"}`,
		`[]`, `"x"`, `{`, `{"name":`, `{"name":"e","timeout":"-5s"}`, `{"name":"e","max_retries":1e99}`,
		`{"name":"e","payload":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`,
		"{\"name\":\"\xff\"}", `{"name":"e","queue":"a{b}"}`, `  {"name":"e"}  `, `{"name":"e","timeout":null}`, `{"name":"echo","broker: x":1}`,
		`{"name":"e","delay":"90s"}`, `{"name":"e","run_at":"2030-01-02T15:04:05.5+02:00"}`, `{"name":"e","run_at":"soon"}`,
	} {
		f.Add([]byte(seed))
	}
	s := &server{cfg: Config{Logger: slog.New(slog.DiscardHandler)}.withDefaults()}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decodeRequest(body)
		if err != nil {
			status, answer := s.describe(err, "", http.MethodPost, "/v1/tasks")
			if status != http.StatusBadRequest || answer.Code != codeInvalid {
				t.Fatalf("decodeRequest(%q) = %v, answered %d %+v; want a 400", body, err, status, answer)
			}
			// Outside what it quotes of the body, the message has no Go
			// package prefixes or decoder wording.
			msg := answer.Error
			ours := quotedText.ReplaceAllString(msg, `""`)
			if msg == "" || strings.Contains(ours, "json: ") || strings.Contains(ours, "Go value") ||
				strings.Contains(ours, "tasks: ") || strings.Contains(ours, "broker: ") {
				t.Fatalf("decodeRequest(%q): message %q is empty or leaks internals", body, msg)
			}
			return
		}
		if r.Name == "" {
			t.Fatalf("decodeRequest(%q) accepted a request with no name", body)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", r, err)
		}
		r2, err := decodeRequest(again)
		if err != nil {
			t.Fatalf("decodeRequest(%s) = %v after accepting %q", again, err, body)
		}
		// The payload comes back as the same JSON, whitespace aside.
		var p1, p2 bytes.Buffer
		if len(r.Payload) > 0 {
			_ = json.Compact(&p1, r.Payload)
		}
		if len(r2.Payload) > 0 {
			_ = json.Compact(&p2, r2.Payload)
		}
		if !bytes.Equal(p1.Bytes(), p2.Bytes()) && !(p1.Len() == 0 && p2.String() == "null") {
			t.Fatalf("payload of %q: %s, then %s after a round trip", body, p1.Bytes(), p2.Bytes())
		}
		r.Payload, r2.Payload = nil, nil
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("decodeRequest(%q) = %+v, but its encoding %s decodes to %+v", body, r, again, r2)
		}
	})
}

// quotedText matches a Go-quoted string (%q) in a message.
var quotedText = regexp.MustCompile(`"(\\.|[^"\\])*"`)

// FuzzParseTaskID checks that only canonical UUIDs are accepted, and that
// they print back as given (modulo case).
func FuzzParseTaskID(f *testing.F) {
	for _, seed := range []string{"0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77", "xyz", "../../etc/passwd",
		"{0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77}", "urn:uuid:0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77",
		"0193f0c27c1a7b3e8a5d2f1e0c9b4a77", "0193F0C2-7C1A-7B3E-8A5D-2F1E0C9B4A77", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := parseTaskID(raw)
		if err != nil {
			return
		}
		if !strings.EqualFold(id.String(), raw) {
			t.Fatalf("parseTaskID(%q) = %s: accepted a non-canonical form", raw, id)
		}
	})
}

// FuzzDecodeBatch checks the batch fast path against the strict decoder: a
// body wirejson.ScanBatch takes, the strict decoder takes too, with the
// same tasks, so that the wrapper's rules ({"tasks": [...]} alone, the key
// in lower case, once) hold whichever path reads it.
func FuzzDecodeBatch(f *testing.F) {
	for _, seed := range []string{`{"tasks":[{"name":"e"}]}`, `{"tasks":[]}`, `{"tasks":{}}`, `{"tasks":null}`,
		`{"tasks":[{"name":"e"}],"x":1}`, `{"tasks":[{"name":"e"}],"tasks":[{"name":"e"}]}`, `{"Tasks":[{"name":"e"}]}`,
		`{"t\u0061sks":[{"name":"e"}]}`, ` {"tasks" : [ {"name":"e","payload":{"a":[1]}} , {"name":"f","queue":"q"} ] } `,
		`{"tasks":[{"name":"e"},]}`, `{"tasks":[{"name":"e"}]}]`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := wirejson.ScanBatch(body)
		if !ok {
			return
		}
		want, err := decodeBatchStrict(body)
		if err != nil {
			t.Fatalf("ScanBatch took %q, which the strict decoder refuses: %v", body, err)
		}
		if len(got) != len(want) {
			t.Fatalf("ScanBatch(%q): %d tasks, the strict decoder %d", body, len(got), len(want))
		}
		for i := range got {
			var p1, p2 bytes.Buffer
			_ = json.Compact(&p1, got[i].Payload)
			_ = json.Compact(&p2, want[i].Payload)
			if got[i].Name != want[i].Name || got[i].Options != want[i].Options || p1.String() != p2.String() {
				t.Fatalf("ScanBatch(%q): tasks[%d] = %+v, the strict decoder %+v", body, i, got[i], want[i])
			}
		}
	})
}
