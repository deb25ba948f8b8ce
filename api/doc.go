// Package api owns runq's HTTP interface (echo v4, JSON, versioned under
// /v1): decoding requests, mapping errors to statuses, rendering records. It
// never talks to Redis; it calls tasks and results through the small
// interfaces declared here.
package api
