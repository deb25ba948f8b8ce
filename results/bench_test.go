package results_test

import (
	"encoding/json"
	"testing"

	"github.com/runq/runq/results"
)

// BenchmarkDecodeEncode measures turning a task hash into the JSON a client
// reads: Decode, then json.Marshal.
func BenchmarkDecodeEncode(b *testing.B) {
	h := map[string]string{
		"name": "echo", "queue": "default", "status": "succeeded", "payload": `{"user":12345,"op":"x"}`,
		"result": `{"user":12345,"op":"x"}`, "attempts": "1", "retries": "3", "timeout": "1800000",
		"ttl": "86400000", "created": "1700000000000", "started": "1700000000100", "finished": "1700000000200",
		"token": "50f8de0e0f4d3037b1605597",
	}
	b.ReportAllocs()
	for b.Loop() {
		rec, err := results.Decode(testID, h)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(rec); err != nil {
			b.Fatal(err)
		}
	}
}
