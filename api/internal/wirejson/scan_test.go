package wirejson

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/runq/runq/tasks"
)

// scanSeeds are bodies of one request for the scanner's tests and fuzz
// targets: the common shapes it must take, and near misses it must leave to
// the strict decoder.
var scanSeeds = []string{
	`{"name":"echo","payload":{"user":12345,"op":"x"}}`,
	`{"name":"echo","payload":{"a":[1,2,{"b":null}]},"queue":"q","max_retries":2,"timeout":"30s","result_ttl":"1h"}`,
	` {"name" : "echo" ,"payload": [ true , false , null , -0.5e+3 , "\u00e9\n\"" , {} , [] ] } `,
	`{"payload":"x","name":"a.b/c:d-e_f"}`, `{"name":"e","max_retries":-0}`, `{"name":"e","max_retries":null}`,
	`{"name":"e","timeout":null,"result_ttl":null,"queue":null,"payload":null}`, `{"name":"e","timeout":"1µs"}`,
	`{"name":"e","delay":"90s"}`, `{"name":"e","run_at":"2030-01-02T15:04:05Z","delay":null}`,
	`{"name":"e","run_at":"2030-01-02T15:04:05.123456789+02:00"}`,
	`{"name":"e","idempotency_key":"order-7"}`, `{"name":"e","unique":{"key":"k","for":"10m"},"on_conflict":"reject"}`,
	`{"name":"e","unique":{"until":"finished","key":"k"},"idempotency_key":"x","on_conflict":null}`,
	`{"name":"e","unique":{}}`, `{"name":"e","unique":null}`, // the common bodies end here
	`{"name":"e","unique":{"key":"k","key":"j"}}`, `{"name":"e","unique":{"key":"k","bogus":1}}`, `{"name":"e","unique":"k"}`,
	`{"name":"e","unique":{"key":null}}`, `{"name":"e","unique":{"for":"-1s"}}`, `{"name":"e","unique":{"key":"k",}}`,
	`{"name":"e","idempotency_key":5}`, `{"name":"e","idempotency_key":"a\nb"}`, `{"name":"e","unique":{"key":"k"}`,
	`{"name":"e","run_at":"2030-01-02 15:04:05"}`, `{"name":"e","run_at":"2030-01-02T15:04:05"}`, `{"name":"e","run_at":5}`,
	`{"name":"e","run_at":"2030-13-02T15:04:05Z"}`, `{"name":"e","run_at":"\u0032030-01-02T15:04:05Z"}`, `{"name":"e","delay":"-1s"}`,
	`{"name":"e","broadcast":true}`, `{"name":"e","broadcast":false}`, `{"name":"e","broadcast":null}`, `{"name":"e","broadcast":1}`,
	`{"name":"e","broadcast":"true"}`, `{"name":"e","broadcast":true,"broadcast":true}`,
	`{"name":"e","delay":"1s","run_at":"2030-01-02T15:04:05Z"}`, `{"name":"e","run_at":"2030-01-02T15:04:05Z","run_at":null}`,
	`{"name":"e","payload":"\ud800"}`, "{\"name\":\"e\",\"payload\":\"\xff\"}", `{"name":"écho"}`,
	`{"name":"e","max_retries":999999999999999999}`, `{"name":"e","max_retries":1000000000000000000}`,
	`{"name":"e","max_retries":1.0}`, `{"name":"e","max_retries":1e2}`, `{"name":"e","max_retries":01}`,
	`{"name":"e","max_retries":"3"}`, `{"name":"e","timeout":"-1s"}`, `{"name":"e","timeout":"abc"}`,
	`{"n\u0061me":"e"}`, `{"name":"\u0065"}`, `{"NAME":"e"}`, `{"name":"e","name":"e"}`, `{"name":"e",}`,
	`{"name":"e"}x`, `{"name":"e"}` + "\v", `{"name":"e"} {}`, `{"name":""}`, `{"name":null}`, `{}`, `[]`,
	`{"name":"e","payload":[1,]}`, `{"name":"e","payload":{"a"}}`, `{"name":"e","payload":nul}`,
	`{"name":"e","payload":"\x"}`, `{"name":"e","payload":"\u12"}`, "{\"name\":\"e\",\"payload\":\"a\tb\"}",
	`{"name":"e","payload":` + strings.Repeat("[", maxScanDepth) + strings.Repeat("]", maxScanDepth) + `}`,
	`{"name":"e","payload":` + strings.Repeat("[", maxScanDepth+1) + strings.Repeat("]", maxScanDepth+1) + `}`,
	`{"name":"e","payload":1.}`, `{"name":"e","payload":-}`, `{"name":"e","payload":1e}`, `{"name":"e","payload":.5}`,
	`{"name":"e","payload":{"a":1,"a":2}}`, "\ufeff{\"name\":\"e\"}", `{"name":"e","bogus":1}`,
}

// commonSeeds is how many of scanSeeds, from the first, are common bodies.
const commonSeeds = 16

// TestScanTakesCommonBodies checks that the scanner, not the strict decoder,
// reads the bodies clients send, and agrees with the strict decoder.
func TestScanTakesCommonBodies(t *testing.T) {
	t.Parallel()
	for _, body := range scanSeeds[:commonSeeds] {
		got, ok := ScanRequest([]byte(body))
		if !ok {
			t.Errorf("ScanRequest(%s) gave up, want it read", body)
			continue
		}
		want, err := strict([]byte(body))
		if err != nil || !sameRequest(got, want) {
			t.Errorf("ScanRequest(%s) = %+v, strict decoder %+v, %v", body, got, want, err)
		}
	}
	batch := `{"tasks":[` + strings.Join(scanSeeds[:commonSeeds], ",") + "]}"
	if _, ok := ScanBatch([]byte(batch)); !ok {
		t.Errorf("ScanBatch(%s) gave up, want it read", batch)
	}
}

// FuzzScanRequest checks the scanner against the strict decoder and against
// encoding/json: whatever it accepts, both accept, with the same request.
func FuzzScanRequest(f *testing.F) {
	for _, seed := range scanSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := ScanRequest(body)
		if !ok {
			return
		}
		want, err := strict(body)
		if err != nil {
			t.Fatalf("ScanRequest(%q) accepted a body the strict decoder refuses: %v", body, err)
		}
		if !sameRequest(got, want) {
			t.Fatalf("ScanRequest(%q) = %+v, strict decoder %+v", body, got, want)
		}
		var plain tasks.Request
		if err := json.Unmarshal(body, &plain); err != nil || !sameRequest(got, plain) {
			t.Fatalf("ScanRequest(%q) = %+v, json.Unmarshal %+v, %v", body, got, plain, err)
		}
	})
}

// FuzzScanBatch is FuzzScanRequest for batches.
func FuzzScanBatch(f *testing.F) {
	for _, seed := range scanSeeds {
		f.Add([]byte(`{"tasks":[` + seed + `]}`))
		f.Add([]byte(`{"tasks":[{"name":"echo"},` + seed + ` ]}`))
	}
	for _, seed := range []string{`{"tasks":[]}`, `{"tasks":{}}`, `{"tasks":null}`, `{"tasks":[{"name":"e"}],"x":1}`,
		`{"tasks":[{"name":"e"}],"tasks":[{"name":"e"}]}`, `{"tasks":[{"name":"e"}]}]`, `{"Tasks":[{"name":"e"}]}`,
		`{"tasks":[{"name":"e"},]}`, `{"tasks":[{"name":"e"}{"name":"e"}]}`, `{"tasks":[{"name":"e"}]`, `{"t\u0061sks":[{"name":"e"}]}`,
		`{"tasks":[` + strings.Repeat(`{"name":"e"},`, tasks.MaxBatch-1) + `{"name":"e"}]}`,
		`{"tasks":[` + strings.Repeat(`{"name":"e"},`, tasks.MaxBatch) + `{"name":"e"}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := ScanBatch(body)
		if !ok {
			return
		}
		// json.Unmarshal decodes each task with the strict decoder.
		var plain struct{ Tasks []tasks.Request }
		if err := json.Unmarshal(body, &plain); err != nil {
			t.Fatalf("ScanBatch(%q) accepted a body json.Unmarshal refuses: %v", body, err)
		}
		if len(got) != len(plain.Tasks) || len(got) < 1 || len(got) > tasks.MaxBatch {
			t.Fatalf("ScanBatch(%q): %d tasks, json.Unmarshal %d; want 1 to %d", body, len(got), len(plain.Tasks), tasks.MaxBatch)
		}
		for i := range got {
			if !sameRequest(got[i], plain.Tasks[i]) {
				t.Fatalf("ScanBatch(%q): tasks[%d] = %+v, json.Unmarshal %+v", body, i, got[i], plain.Tasks[i])
			}
		}
	})
}

// strict decodes body as the API's strict decoder does.
func strict(body []byte) (tasks.Request, error) {
	var r tasks.Request
	err := r.UnmarshalJSON(body)
	return r, err
}

// sameRequest reports whether a and b hold the same values, an absent
// payload (nil) differing from a null one. Times are compared with Equal:
// each parse of an offset makes a zone of its own.
func sameRequest(a, b tasks.Request) bool {
	ao, bo := a.Options, b.Options
	ao.RunAt, bo.RunAt = time.Time{}, time.Time{}
	return a.Name == b.Name && ao == bo && a.RunAt.Equal(b.RunAt) && a.Broadcast == b.Broadcast &&
		bytes.Equal(a.Payload, b.Payload) && (a.Payload == nil) == (b.Payload == nil) &&
		a.IdempotencyKey == b.IdempotencyKey && a.OnConflict == b.OnConflict &&
		(a.Unique == nil) == (b.Unique == nil) && (a.Unique == nil || *a.Unique == *b.Unique)
}
