package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDependenciesFollowUse keeps what each program links to what it
// uses: a producer (either client) links no embedded Redis, a worker
// program built on runqcli carries none of runq bench, and neither tasks
// nor api link Prometheus (only api/metrics does, for programs that ask).
func TestDependenciesFollowUse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pkg string
		not []string
	}{
		{"github.com/runq/runq/tasks", []string{"github.com/alicebob/miniredis/v2", "github.com/yuin/gopher-lua", "github.com/prometheus"}},
		{"github.com/runq/runq/api", []string{"github.com/prometheus"}},
		{"github.com/runq/runq/api/client", []string{"github.com/alicebob/miniredis/v2", "github.com/yuin/gopher-lua"}},
		{"github.com/runq/runq/cmd/runqcli", []string{"github.com/runq/runq/cmd/runq/internal/bench"}},
		{"github.com/runq/runq/cmd/example", []string{"github.com/runq/runq/cmd/runq/internal/bench"}},
	}
	for _, tt := range tests {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, "go", "list", "-deps", tt.pkg).Output()
		cancel()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", tt.pkg, err)
		}
		deps := strings.Fields(string(out))
		for _, not := range tt.not {
			for _, d := range deps {
				if d == not || strings.HasPrefix(d, not+"/") {
					t.Errorf("%s depends on %s", tt.pkg, d)
				}
			}
		}
		if len(deps) < 5 {
			t.Errorf("go list -deps %s listed %d packages: the check proves nothing", tt.pkg, len(deps))
		}
	}
}
