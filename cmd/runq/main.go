// Command runq runs the runq HTTP API and workers with the built-in handlers
// (echo, sleep, fail). With no --redis it starts an embedded Redis, so
// `go run ./cmd/runq` is a working system.
package main

import (
	"os"

	"github.com/runq/runq/cmd/cli"
	"github.com/runq/runq/tasks"
)

func main() {
	reg := tasks.NewRegistry()
	tasks.RegisterBuiltins(reg)
	os.Exit(cli.Main(reg))
}
