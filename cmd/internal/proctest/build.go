package proctest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"sync"
	"testing"
	"time"
)

// Binary builds one command at most once per test process and shares the
// executable between the tests that ask for it. Declare it as a package
// variable and call Remove from TestMain, after m.Run.
type Binary struct {
	Pkg string // import path of the command, such as "github.com/runq/runq/cmd/runq"

	once sync.Once
	dir  string // temporary directory holding the executable
	path string
	err  error
}

// Path builds the command on first use and returns the executable's path.
// In -short mode it skips the test, which would build and run a binary. A
// failed build fails every test that asks, each with the same error.
func (b *Binary) Path(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	b.once.Do(b.build)
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// build runs `go build` with a 5-minute limit into a new temporary directory.
func (b *Binary) build() {
	goTool, err := exec.LookPath("go") // go test puts its own GOROOT/bin first on PATH
	if err != nil {
		b.err = fmt.Errorf("no go command to build %s: %v", b.Pkg, err)
		return
	}
	if b.dir, err = os.MkdirTemp("", "runq-test-"); err != nil {
		b.err = err
		return
	}
	b.path = b.dir + "/" + path.Base(b.Pkg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool, "build", "-o", b.path, b.Pkg).CombinedOutput()
	if err != nil {
		b.err = fmt.Errorf("go build %s: %v\n%s", b.Pkg, err, out)
	}
}

// Remove deletes the executable's directory, if Path created one. It is
// for TestMain, once every test has finished.
func (b *Binary) Remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}
