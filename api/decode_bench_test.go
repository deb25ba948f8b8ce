package api

import (
	"strings"
	"testing"
)

// BenchmarkDecodeRequest measures decoding the body of one submission, the
// one the wrk submit script sends.
func BenchmarkDecodeRequest(b *testing.B) {
	body := []byte(`{"name":"echo","payload":{"user":12345,"op":"x"}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := decodeRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBatch measures decoding a batch of 1,000 tasks, the one the
// wrk batch script sends.
func BenchmarkDecodeBatch(b *testing.B) {
	one := `{"name":"echo","payload":{"user":12345,"op":"x"}}`
	body := []byte(`{"tasks":[` + strings.Repeat(one+",", 999) + one + `]}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := decodeBatch(body); err != nil {
			b.Fatal(err)
		}
	}
}
