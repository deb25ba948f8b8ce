// Package runqcli gives a worker program runq's command line: build a
// tasks.Registry with your handlers, then call Main. Your binary then has
// runq's commands and flags with your handlers in them:
//
//	yourprog            the HTTP API and a worker pool (all)
//	yourprog serve      only the HTTP API
//	yourprog worker     only a worker pool
//	yourprog submit, get, wait, cancel, retry, tasks, queues, workers, purge
//	                    use a running runq over its HTTP API (--api, --api-token)
//	yourprog help CMD   what a command does, and its flags
//
// cmd/example is a complete program.
package runqcli

import (
	"github.com/runq/runq/cmd/internal/cli"
	"github.com/runq/runq/tasks"
)

// Main runs the command line in os.Args with the handlers in reg until
// SIGINT or SIGTERM, and returns the exit code: 0, 1 when the command
// failed, 2 on a usage error. Use it as os.Exit(runqcli.Main(reg)).
func Main(reg *tasks.Registry) int { return cli.Main(reg) }
