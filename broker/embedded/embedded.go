// Package embedded runs an in-process Redis (miniredis) that other
// processes can join over TCP, so that runq works with no set-up. It is
// for trying runq and for tests: its data lives in memory and is lost at
// exit, and its Lua runs a few thousand script calls a second. Only the
// programs that start one link it.
package embedded

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// Server is an embedded Redis listening on a TCP address.
type Server struct {
	mr *miniredis.Miniredis
}

// Start starts an embedded Redis on addr ("127.0.0.1:0" picks a free
// port).
func Start(addr string) (*Server, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("embedded: start redis on %s: %w", addr, err)
	}
	return &Server{mr: mr}, nil
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.mr.Addr() }

// URL returns a redis:// URL for the server.
func (s *Server) URL() string { return "redis://" + s.mr.Addr() }

// Run advances the server's TTL clock with real time until ctx ends:
// miniredis expires keys only when told, and finished results must expire.
func (s *Server) Run(ctx context.Context) error {
	const tick = time.Second
	t := time.NewTicker(tick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			s.mr.FastForward(now.Sub(last))
			last = now
		}
	}
}

// Close stops the server.
func (s *Server) Close() { s.mr.Close() }
