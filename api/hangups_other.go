//go:build !linux

package api

// hangups does nothing outside Linux: a parked long poll whose client has
// gone stays parked until its answer, which then fails to be written.
type hangups struct{}

func (h *hangups) watch(p *poll)  {}
func (h *hangups) forget(p *poll) {}
