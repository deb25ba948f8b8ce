// Package cli is runq's command line: all, serve, worker, version and help,
// their flags and environment twins, signals, the embedded Redis and the
// HTTP server's limits; and the client commands (submit, get, tasks,
// purge...), which reach a running runq only through its HTTP API. It is internal: worker programs get it through
// package cmd/runqcli, and the runq binary adds its bench command to it.
// The work is done by the packages it wires together.
package cli
