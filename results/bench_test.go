package results_test

import (
	"encoding/json"
	"testing"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

// BenchmarkDecodeEncode measures turning a task hash into the JSON a client
// reads: Decode, then json.Marshal.
func BenchmarkDecodeEncode(b *testing.B) {
	h := map[string]string{
		broker.FieldMeta: "3,1800000,86400000,default,echo", broker.FieldStatus: "succeeded", broker.FieldPayload: `{"user":12345,"op":"x"}`,
		broker.FieldResult: `{"user":12345,"op":"x"}`, broker.FieldAttempt: "50f8de0e0f4d3037b1605597,1700000000100,1",
		broker.FieldCreated: "1700000000000", broker.FieldFinished: "1700000000200",
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
