// Package broker owns runq's Redis layout and every Redis call runq makes:
// key names, the task hash's fields, the Lua scripts, and the atomic moves
// of a task between its queue, its lease and its schedule, with the reads
// of its record. It knows nothing of HTTP. The packages users meet, tasks
// and results, reach Redis only through it.
//
// Every key of one queue shares the hash tag {queue}, and every Lua script
// touches only the keys it declares, all in one hash slot, so the layout runs
// unchanged on Redis Cluster. A task's ID carries that slot, which is how a
// task is found by its ID alone (see internal/layout).
package broker
