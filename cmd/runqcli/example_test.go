package runqcli_test

import (
	"context"
	"os"

	"github.com/runq/runq/cmd/runqcli"
	"github.com/runq/runq/tasks"
)

type greetIn struct {
	Name string `json:"name"`
}

type greetOut struct {
	Text string `json:"text"`
}

// A worker program: its handlers, then runq's command line. Run it as
// `go run . worker --redis redis://localhost:6379/0`, or with no command
// to serve the HTTP API as well.
func Example() {
	reg := tasks.NewRegistry()
	tasks.Handle(reg, "greet", func(ctx context.Context, t *tasks.Task, in greetIn) (greetOut, error) {
		return greetOut{Text: "hello, " + in.Name}, nil
	})
	os.Exit(runqcli.Main(reg))
}
