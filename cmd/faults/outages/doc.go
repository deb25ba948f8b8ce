// Package outages owns runq's fault tests against Redis and the network:
// Redis killed and restarted under a run of HTTP submissions, a network
// blackhole and repeated CLIENT KILLs between workers and Redis, and HTTP
// load with submissions and long polls. Each test starts its own
// redis-server (and, where it measures the product as shipped, the runq
// binary) on free loopback ports, stops only the processes it started, and
// prints one summary line of figures:
//
//	faults: redis-restarts fsync=always tasks=1000 acked=1000 lost=0 ...
//
// The package changes nothing in runq: its non-test files are the test
// harness (servers, a TCP proxy, a runq process, latency figures); they
// depend on runq's packages, never the other way round.
//
// Sizes: RUNQ_FAULT_SIZE unset or "ci" runs reduced figures that fit CI;
// "full" runs the sizes of cmd/faults/README.md:
//
//	go test -race ./cmd/faults/outages/                                  # CI size
//	RUNQ_FAULT_SIZE=full go test -v -timeout 30m ./cmd/faults/outages/  # full size
//
// Without redis-server on PATH the tests skip, or fail when CI=true or
// RUNQ_REQUIRE_REDIS=1.
package outages
