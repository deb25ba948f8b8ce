// Package results owns what a client reads about a task: its Record and
// Status, the same text from Redis to JSON, and waiting for a task to
// finish. It holds no Redis code: a Watcher reads records and hears of
// finished tasks through a Source, which broker.Broker implements.
package results
