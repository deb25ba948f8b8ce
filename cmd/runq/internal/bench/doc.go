// Package bench measures runq on a Redis: enqueue and drain throughput,
// latency at fixed rates, how late delayed tasks start, Redis round trips, commands and CPU per task,
// worker CPU per task, Redis memory per queued task at three payload
// sizes, the cost per task at steady arrival rates, what many parked
// long polls cost the HTTP API server, and what a bounded queue's check
// and its refusals cost. It backs the `runq bench` command.
// Every scenario works under a key prefix of its own and deletes its keys
// when done; it never flushes a database. Some scenarios run parts in
// child processes of this executable, so that each part's CPU and memory
// are its own: the waiters scenario's HTTP clients and the steady rows'
// worker (ChildEnv set), and the steady rows' API (`serve`).
package bench
