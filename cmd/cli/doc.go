// Package cli is runq's command line, shared by the runq binary and by
// programs that register their own handlers: build a tasks.Registry, then
// call cli.Main(reg) to get `all`, `serve` and `worker` with those handlers.
// It owns process concerns (flags and their environment twins, signals,
// the embedded Redis, HTTP server timeouts); the work is done by the
// packages it wires together.
package cli
