// Package results owns what clients read about a task: its status and
// record, decoded from the task's Redis hash, and the wait for a task to
// finish. It reads Redis; the writes that move a task belong to broker.
package results
