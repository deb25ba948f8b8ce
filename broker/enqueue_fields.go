package broker

import (
	"strconv"

	"github.com/runq/runq/broker/internal/layout"
)

// taskFields returns the fields of t's hash that only some tasks have,
// field then value: none for a plain task.
func taskFields(t NewTask) []string {
	if t.CallbackURL == "" {
		return nil
	}
	return []string{layout.FieldCallback, t.CallbackURL}
}

// moreFields appends to enqueue.lua's args for the tasks at idx the
// fields that only some tasks have, a triple each (the task's number, the
// field, its value), and marks the bound with their count ("each+3"),
// making the bound explicit when it was left out. Plain tasks change
// nothing.
func moreFields(ts []NewTask, idx []int, args []any) []any {
	var more []any
	for n, i := range idx {
		fs := taskFields(ts[i])
		for j := 0; j+1 < len(fs); j += 2 {
			more = append(more, n+1, fs[j], fs[j+1])
		}
	}
	if len(more) == 0 {
		return args
	}
	at := 3 * len(idx) // the bound's place
	if len(args) == at {
		args = append(args, "each")
	}
	args[at] = args[at].(string) + "+" + strconv.Itoa(len(more))
	return append(args, more...)
}

// hooked reports whether f ends a task that has a callback URL, whose
// webhook finish.lua then schedules.
func hooked(f Finish) bool {
	return f.Claimed.hook && (f.Outcome == Succeeded || f.Outcome == Failed || f.Outcome == Canceled)
}

// hookMark opens the stored payload of a task that has a callback URL,
// before the payload as pack stores it: the start of an attempt reads the
// payload anyway, so it learns that the task's end must schedule a webhook
// at no cost to tasks without one (a field more in start_task.lua's HMGET
// would cost every start). Neither JSON nor packMark is ever hookMark;
// unpack skips it. A watched task's payload has watchMark before it.
const hookMark = 0x01

// packTask returns t's payload as enqueue.lua stores it: packed, and
// marked when t has a callback URL.
func packTask(t NewTask) []byte {
	p := pack(t.Payload)
	if t.CallbackURL == "" {
		return p
	}
	return append([]byte{hookMark}, p...)
}

// unpackTask returns a stored payload as unpack does, whether it was
// marked by packTask (hook), and whether watch.lua marked it (watched).
func unpackTask(stored string) (payload []byte, hook, watched bool, err error) {
	payload, err = unpack(stored)
	_, watched, hook = unmark(stored)
	return payload, hook, watched, err
}

// SchedulesWebhook reports whether recording f schedules a webhook: it
// ends a task that has a callback URL. A pool wakes its deliverer then.
func (f Finish) SchedulesWebhook() bool { return hooked(f) }
