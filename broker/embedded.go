package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// Embedded is an in-process Redis (miniredis) listening on a TCP address, so
// that runq works with no set-up and other processes can join it. Its data
// lives in memory and is lost when the process exits.
type Embedded struct {
	mr *miniredis.Miniredis
}

// StartEmbedded starts an embedded Redis on addr ("127.0.0.1:0" picks a free
// port).
func StartEmbedded(addr string) (*Embedded, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("broker: start embedded redis on %s: %w", addr, err)
	}
	return &Embedded{mr: mr}, nil
}

// Addr returns the host:port the embedded Redis listens on.
func (e *Embedded) Addr() string { return e.mr.Addr() }

// URL returns a redis:// URL for the embedded Redis.
func (e *Embedded) URL() string { return "redis://" + e.mr.Addr() }

// Run advances the embedded Redis's TTL clock with real time until ctx ends:
// miniredis expires keys only when told, and finished results must expire.
func (e *Embedded) Run(ctx context.Context) error {
	const tick = time.Second
	t := time.NewTicker(tick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			e.mr.FastForward(now.Sub(last))
			last = now
		}
	}
}

// Close stops the embedded Redis.
func (e *Embedded) Close() { e.mr.Close() }
