// Package broker owns runq's Redis layout: key names, Lua scripts, and the
// atomic moves of a task between its queue, its lease and its schedule. It
// knows nothing of HTTP; only broker and results touch Redis.
//
// Every key of one queue shares the hash tag {queue}, and every Lua script
// touches only the keys it declares, all in one hash slot, so the layout runs
// unchanged on Redis Cluster. A task's ID carries that slot (see NewID), which
// is how a task is found by its ID alone.
package broker
