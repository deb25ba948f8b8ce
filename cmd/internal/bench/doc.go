// Package bench measures runq on a Redis: enqueue and drain throughput,
// latency at fixed rates, Redis round trips, commands and CPU per task,
// worker CPU per task and Redis memory per queued task. It backs the
// `runq bench` command. Every scenario works under a key prefix of its own
// and deletes its keys when done; it never flushes a database.
package bench
