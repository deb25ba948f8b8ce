// Package workers owns runq's fault tests of worker processes: workers
// killed with SIGKILL mid-task and restarted, a worker shut down with
// SIGTERM while busy, handlers that ignore their timeout, panic, hang,
// return a result that is not JSON, or kill their own process, and the
// edge where a late handler's outcome is being recorded as the pool
// abandons it. Each test starts its own redis-server (with a random
// password) and builds cmd/faults/faultworker; it prints one "faults: ..."
// summary line of figures and fails on any lost task. The zombie and
// abandonment tests run the pool in the test process, against the same
// kind of redis-server, to read its Stats.
//
//	go test -v ./cmd/faults/workers/                                   # CI size
//	RUNQ_FAULT_SIZE=full go test -v -timeout 30m ./cmd/faults/workers/ # the full sizes
//
// go test shows a passing package's output only with -v; without it the
// summary lines appear only when a test fails.
//
// This file is the contract between the tests and the fault worker: task
// payloads, results and the key where executions are counted. Nothing
// outside cmd/faults imports it; Redis outages are cmd/faults/outages'.
package workers

// ExecutionsKey names the Redis hash in which the "record" handler counts
// its executions: task ID -> number of times a handler ran it. It is the
// fault worker's own bookkeeping, outside runq's key layout; every test
// runs its own redis-server, so it needs no prefix.
const ExecutionsKey = "faults:executions"

// RecordArgs is the payload of "record": count the execution, then sleep.
type RecordArgs struct {
	MS int `json:"ms"` // how long to sleep after counting, stopping early if cancelled
}

// RecordResult is the result of "record".
type RecordResult struct {
	ID        string `json:"id"`        // the task's ID, so a result cannot be mistaken for another's
	Execution int64  `json:"execution"` // this execution's number, 1 for the first
	PID       int    `json:"pid"`       // the worker process that ran it
}

// SlowArgs is the payload of "slow": the first attempt sleeps MS (giving
// up when cancelled unless IgnoreCancel); later attempts return at once.
type SlowArgs struct {
	MS           int  `json:"ms"`
	IgnoreCancel bool `json:"ignore_cancel"`
}

// ZombieArgs is the payload of "zombie": ignore the context and sleep MS
// (the tests pass three times the task's timeout) on attempts up to
// Attempts (0 means every attempt); later attempts return at once.
type ZombieArgs struct {
	MS       int `json:"ms"`
	Attempts int `json:"attempts"`
}

// Outcome is the result of "slow" and "zombie": which attempt produced it,
// in which process.
type Outcome struct {
	Attempt int `json:"attempt"`
	PID     int `json:"pid"`
}

// ExitCode is the status with which the "exit" handler ends its process.
const ExitCode = 3
