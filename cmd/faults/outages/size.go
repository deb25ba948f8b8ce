package outages

import (
	"fmt"
	"os"
	"time"
)

// Size is the scale of a run. CISize keeps the whole package within a few
// minutes on a 2-core machine under -race; FullSize gives the figures of
// cmd/faults/README.md.
type Size struct {
	Name string // "ci" or "full"

	// Redis restarts: tasks acknowledged over HTTP, spread over RestartRun,
	// with Redis down for Outage at each of its two kills: as long as the
	// HTTP client's timeout, so that a server that waits out the outage
	// instead of answering 503 shows up as a hang.
	RestartTasks int
	RestartRun   time.Duration
	Outage       time.Duration

	// Network blackhole: short tasks flowing, and how long the cut lasts
	// (always longer than the 3s visibility timeout).
	BlackholeTasks int
	Blackhole      time.Duration

	// CLIENT KILL TYPE normal every KillEvery for KillFor.
	KillEvery time.Duration
	KillFor   time.Duration

	// HTTP load: LoadClients submitting for LoadFor; then Waiters long polls.
	LoadClients int
	LoadFor     time.Duration
	Waiters     int

	// Submissions made while Redis refuses writes, in each way it does.
	RefusedSubmissions int
}

// CISize and FullSize are the two sizes RUNQ_FAULT_SIZE chooses from.
var (
	CISize = Size{
		Name:         "ci",
		RestartTasks: 1000, RestartRun: 6 * time.Second, Outage: 5 * time.Second,
		BlackholeTasks: 300, Blackhole: 8 * time.Second,
		KillEvery: 2 * time.Second, KillFor: 15 * time.Second,
		LoadClients: 100, LoadFor: 5 * time.Second, Waiters: 300,
		RefusedSubmissions: 50,
	}
	FullSize = Size{
		Name:         "full",
		RestartTasks: 5000, RestartRun: 20 * time.Second, Outage: 5 * time.Second,
		BlackholeTasks: 1000, Blackhole: 20 * time.Second,
		KillEvery: 5 * time.Second, KillFor: time.Minute,
		LoadClients: 100, LoadFor: 30 * time.Second, Waiters: 1000,
		RefusedSubmissions: 1000,
	}
)

// SizeFromEnv reads RUNQ_FAULT_SIZE: unset or "ci" is CISize, "full" is
// FullSize; anything else is an error, so that a typo does not silently run
// the small size.
func SizeFromEnv() (Size, error) {
	switch v := os.Getenv("RUNQ_FAULT_SIZE"); v {
	case "", "ci":
		return CISize, nil
	case "full":
		return FullSize, nil
	default:
		return Size{}, fmt.Errorf("RUNQ_FAULT_SIZE=%q: want ci or full", v)
	}
}
