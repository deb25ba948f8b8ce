//go:build !linux

package parking

// Hangups does nothing outside Linux: a held connection whose client has
// gone stays held until its answer, which then fails to be written.
type Hangups struct{}

func (h *Hangups) watch(c *Conn)  {}
func (h *Hangups) forget(c *Conn) {}
