// Package api is runq's HTTP interface, an echo v4 application: JSON,
// versioned under /v1, with one error handler that renders every error as
// {"error": ..., "code": ...} (GET /readyz answers its 503 with its own
// {"status", "error"}). It never talks to Redis: its handlers call
// tasks, results and broker through the small interfaces declared in
// server.go. The Go client of this API is package api/client; its OpenAPI
// 3.1 document, openapi.json, is served at GET /openapi.json.
package api
