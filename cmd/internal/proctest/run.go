package proctest

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Result is what a command run to its end wrote, and its exit code.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// RunCmd runs bin with args to its end, with CleanEnv's environment plus
// env ("KEY=value") and stdin (nil: none, which reads as /dev/null), and
// returns what it wrote and its exit code. The test fails if it cannot
// start, or if it runs for more than 30s.
func RunCmd(t *testing.T, bin string, env []string, stdin io.Reader, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(CleanEnv(), env...)
	cmd.Stdin = stdin
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %q: still running after 30s; stderr:\n%s", bin, args, &stderr)
	}
	if exitErr := (*exec.ExitError)(nil); err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("%s %q: %v", bin, args, err)
	}
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode()}
}
