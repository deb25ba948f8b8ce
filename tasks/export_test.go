package tasks

import "time"

// Waiting returns how many Waits of c are waiting on its watcher, for tests
// that must know a Wait is in progress.
func Waiting(c *Client) int { return c.watcher.Waiting() }

// Messages is a slog.Handler that keeps each record's message.
type Messages = messages

// WaitingForRoom returns how many submissions of c wait for room in full
// queues, parked ones included.
func WaitingForRoom(c *Client) int { return c.rooms.waiting() }

// SetRoomRecheck sets how often c reads the room of the queues waited on
// whatever the events channel says, for tests of either path alone.
func SetRoomRecheck(c *Client, d time.Duration) { c.rooms.recheck = d }

// SetClaimRand makes p draw its weighted claim orders from intN, uniform
// in [0, n), instead of math/rand/v2; before Run.
func SetClaimRand(p *Pool, intN func(n int) int) { p.order.intN = intN }

// SetClock sets the local clock p's scheduler reads, for tests of
// replicas whose clocks disagree.
func SetClock(p *Pool, now func() time.Time) { p.clock = now }

// ParseSpec returns spec as a schedule shows it and its first tick after
// t.
func ParseSpec(spec string, t time.Time) (string, time.Time, error) {
	norm, times, err := parseSpec(spec)
	if err != nil {
		return "", time.Time{}, err
	}
	return norm, times.Next(t), nil
}
