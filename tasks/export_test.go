package tasks

// Waiting returns how many Waits of c are waiting on its watcher, for tests
// that must know a Wait is in progress.
func Waiting(c *Client) int { return c.watcher.Waiting() }

// Messages is a slog.Handler that keeps each record's message.
type Messages = messages

// SetClaimRand makes p draw its weighted claim orders from intN, uniform
// in [0, n), instead of math/rand/v2; before Run.
func SetClaimRand(p *Pool, intN func(n int) int) { p.order.intN = intN }
