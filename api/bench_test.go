package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/runq/runq/broker/redistest"
)

// BenchmarkSubmit measures POST /v1/tasks through the echo app on each
// backend (miniredis always, a real Redis with REDIS_URL), from as many
// goroutines as GOMAXPROCS: decoding, validation, the group-committed
// enqueue and the JSON answer.
func BenchmarkSubmit(b *testing.B) {
	for _, be := range redistest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			s := setupIdle(b, be)
			const body = `{"name":"echo","payload":{"user":12345,"op":"x"}}`
			b.SetParallelism(32) // 64 concurrent requests on 2 CPUs, like the wrk run
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodPost, "/v1/tasks", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					rec := httptest.NewRecorder()
					s.app.ServeHTTP(rec, req)
					if rec.Code != http.StatusAccepted {
						b.Fatalf("POST = %d %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}
}

// BenchmarkSubmitBatch measures POST /v1/tasks/batch with 1,000 tasks per
// request, as the wrk batch script sends, on each backend; it reports
// tasks/s beside ns/op (one op is one batch).
func BenchmarkSubmitBatch(b *testing.B) {
	one := `{"name":"echo","payload":{"user":12345,"op":"x"}}`
	body := `{"tasks":[` + strings.Repeat(one+",", 999) + one + `]}`
	for _, be := range redistest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			s := setupIdle(b, be)
			b.SetParallelism(4) // 8 concurrent batches on 2 CPUs, like the wrk run
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodPost, "/v1/tasks/batch", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					rec := httptest.NewRecorder()
					s.app.ServeHTTP(rec, req)
					if rec.Code != http.StatusAccepted {
						b.Fatalf("POST batch = %d %.200s", rec.Code, rec.Body)
					}
				}
			})
			b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "tasks/s")
		})
	}
}
