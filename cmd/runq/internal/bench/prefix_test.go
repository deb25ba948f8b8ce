package bench

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/runq/runq/broker/redistest"
)

// TestPrefixUsed checks the test that keeps the memory rows' short prefix
// away from keys already in the database.
func TestPrefixUsed(t *testing.T) {
	t.Parallel()
	for _, be := range redistest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			ctx := context.Background()
			used := be.Prefix + "a"
			if err := be.Client.Set(ctx, used+":x", "1", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { be.Client.Del(ctx, used+":x") })
			for prefix, want := range map[string]bool{used: true, be.Prefix + "b": false, be.Prefix: false} {
				if got, err := prefixUsed(ctx, be.Client, prefix); err != nil || got != want {
					t.Errorf("prefixUsed(%q) = %v, %v; want %v", prefix, got, err, want)
				}
			}
		})
	}
}

// TestShortScope checks the memory rows' scope: under the default
// Config.Prefix, a four-character prefix no key had, its keys deleted by
// cleanup; under an explicit one, a scope of that prefix as every row has.
func TestShortScope(t *testing.T) {
	t.Parallel()
	for _, be := range redistest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			ctx := context.Background()
			r := &runner{cfg: Config{Client: be.Client}.withDefaults(), rdb: be.Client, quiet: slog.New(slog.DiscardHandler)}
			s, err := r.newShortScope(ctx, noopRegistry())
			if err != nil {
				t.Fatal(err)
			}
			if len(s.prefix) != len("runq") || s.prefix[0] != 'q' {
				t.Errorf("short prefix %q, want q and three characters", s.prefix)
			}
			if used, err := prefixUsed(ctx, be.Client, s.prefix); err != nil || !used {
				t.Errorf("prefixUsed(%q) after the scope registered its handlers = %v, %v; want true", s.prefix, used, err)
			}
			if err := r.cleanup(ctx, s); err != nil {
				t.Fatal(err)
			}
			if used, err := prefixUsed(ctx, be.Client, s.prefix); err != nil || used {
				t.Errorf("prefixUsed(%q) after cleanup = %v, %v; want false", s.prefix, used, err)
			}

			r.cfg = Config{Client: be.Client, Prefix: be.Prefix}.withDefaults()
			s, err = r.newShortScope(ctx, noopRegistry())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = r.cleanup(ctx, s) })
			if !strings.HasPrefix(s.prefix, be.Prefix+"-") {
				t.Errorf("scope under an explicit prefix %q = %q, want it under the prefix", be.Prefix, s.prefix)
			}
		})
	}
}
