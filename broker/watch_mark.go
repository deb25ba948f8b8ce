package broker

import "github.com/runq/runq/broker/internal/layout"

// watchMark opens the stored payload of a task that an event stream
// follows: watch.lua writes it in front of the payload as it was stored
// (before any hookMark, then packMark or JSON), when it marks the task
// watched. The start of an attempt reads the payload anyway, so the worker
// learns that it is to note the start in the task's stream at no cost to
// unwatched tasks: a field more in start_task.lua's HMGET ("w", which
// most hashes lack) is a scan of the whole hash, about 2,300 Redis
// instructions per take and start. Neither JSON, packMark nor hookMark is
// ever watchMark; unpack skips it. The hash keeps "w" as well, for the
// scripts that note other changes (event.lua, progress.lua).
const watchMark = layout.WatchMark

// unmark splits the marks off a stored payload, in the order they are
// written in front of it: watchMark, then hookMark. It returns the value
// as pack stored it.
func unmark(stored string) (rest string, watched, hook bool) {
	if len(stored) > 0 && stored[0] == watchMark {
		stored, watched = stored[1:], true
	}
	if len(stored) > 0 && stored[0] == hookMark {
		stored, hook = stored[1:], true
	}
	return stored, watched, hook
}
