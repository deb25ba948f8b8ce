package broker

import (
	"context"
	"fmt"
	"time"
)

// Outcome is how an attempt ended, as finish.lua takes it.
type Outcome string

// Outcomes of an attempt.
const (
	// Succeeded stores the result; the task is terminal.
	Succeeded Outcome = "succeeded"
	// Failed stores the error; the task is terminal.
	Failed Outcome = "failed"
	// Retry stores the error and schedules another attempt after a delay.
	Retry Outcome = "retry"
	// Release hands an unfinished attempt back to the head of the queue at
	// once, as a worker shutting down does.
	Release Outcome = "release"
)

// Finish is the end of one attempt.
type Finish struct {
	Claimed *Claimed
	Outcome Outcome
	Result  []byte        // JSON, for Succeeded
	Error   string        // for Failed and Retry
	RetryIn time.Duration // for Retry
}

// Finish records f if, and only if, the attempt still holds its lease. A
// late attempt whose lease expired gets ErrLeaseLost and writes nothing, so
// a task's outcome is recorded once. A resent call that was already applied
// returns nil.
func (b *Broker) Finish(ctx context.Context, f Finish) error {
	c := f.Claimed
	text := f.Error
	if f.Outcome == Succeeded {
		text = string(f.Result)
	}
	keys := []string{b.keys.Task(c.ID), b.keys.Leases(c.Queue), b.keys.Owners(c.Queue),
		b.keys.Scheduled(c.Queue), b.keys.Pending(c.Queue)}
	n, err := finishScript.Run(ctx, b.rdb, keys, c.ID.String(), c.Token, string(f.Outcome),
		text, ms(f.RetryIn), b.keys.DoneChannel()).Int64()
	if err != nil {
		return fmt.Errorf("broker: finish %s (%s): %w", c.ID, f.Outcome, err)
	}
	if n == 0 {
		return fmt.Errorf("broker: finish %s (%s): %w", c.ID, f.Outcome, ErrLeaseLost)
	}
	return nil
}
