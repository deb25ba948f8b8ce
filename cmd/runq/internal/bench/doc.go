// Package bench measures runq on a Redis: enqueue and drain throughput,
// latency at fixed rates, Redis round trips, commands and CPU per task,
// worker CPU per task, Redis memory per queued task, and what many parked
// long polls cost the HTTP API server. It backs the `runq bench` command.
// Every scenario works under a key prefix of its own and deletes its keys
// when done; it never flushes a database. The waiters scenario runs its
// HTTP clients in a child process (this executable again, with ChildEnv
// set), so that the server's memory is measured without theirs.
package bench
