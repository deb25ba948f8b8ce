// Command runq runs the runq HTTP API and workers with the built-in handlers
// (echo, sleep, fail), and measures runq with `runq bench`. With no
// --redis it starts an embedded Redis, so `go run ./cmd/runq` is a working
// system.
package main

import (
	"os"

	"github.com/runq/runq/cmd/internal/cli"
	"github.com/runq/runq/tasks"
	"github.com/runq/runq/tasks/builtin"
)

func main() {
	reg := tasks.NewRegistry()
	builtin.Register(reg)
	os.Exit(cli.Main(reg, benchCommand))
}
