package main

import (
	"strings"
	"testing"
)

// TestClientCommandsKeys runs submit with an idempotency key and a unique
// key against a running server.
func TestClientCommandsKeys(t *testing.T) {
	t.Parallel()
	s := newCLISetup(t)
	first := s.submit(t, "echo", `{"order":7}`, "--idempotency-key", "order-7", "--queue", "nobody.waits")
	if again := s.submit(t, "echo", `{"order":7}`, "--idempotency-key", "order-7", "--queue", "nobody.waits"); again != first {
		t.Errorf("submit again with the key = %s, want %s", again, first)
	}
	holder := s.submit(t, "echo", "--unique-key", "nightly", "--unique-until", "started", "--queue", "nobody.waits")
	r := s.want(t, 1, "submit", "echo", "--unique-key", "nightly", "--unique-for", "1h", "--on-conflict", "reject", "--queue", "nobody.waits")
	if !strings.Contains(r.Stderr, holder.String()) {
		t.Errorf("submit --on-conflict reject of a held key: stderr %q, want it to name %s", r.Stderr, holder)
	}
	if r := s.want(t, 2, "submit", "echo", "--unique-key", "k"); !strings.Contains(r.Stderr, "unique") {
		t.Errorf("submit --unique-key without a hold: stderr %q, want a usage error about unique", r.Stderr)
	}
}
