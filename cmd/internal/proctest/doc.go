// Package proctest owns the plumbing of runq's end-to-end tests: building a
// command with `go build`, running it in an environment free of runq's
// variables, reading its output as it comes, signalling it, and talking to
// its HTTP API. It holds no assertions about what a binary should do; those
// stay in the tests. Only _test.go files import it.
package proctest
