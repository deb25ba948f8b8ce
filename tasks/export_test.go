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
