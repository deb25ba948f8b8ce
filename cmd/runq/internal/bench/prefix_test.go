package bench

import (
	"context"
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
