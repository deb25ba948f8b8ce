package layout

import (
	"strconv"
	"strings"
)

// PartsMark opens a payload, result, error, callback URL or webhook state
// of 65 to 317 bytes (as stored) that lua/spill.lua stored in parts, so
// that the task's hash keeps Redis's compact encoding: a value of 65 bytes
// or more in one field turns the whole hash into a hashtable, 200 to 450
// bytes more per task. The byte after it is the count n of the parts that
// follow the field's own 61 bytes, in fields field+"1" to field+n. Neither
// JSON, a URL, packMark, hookMark nor WatchMark is ever PartsMark; a
// WatchMark goes in front of it.
const PartsMark = 0x03

// WatchMark opens the stored payload of a task that an event stream
// follows (broker's watchMark, which watch.lua writes); a payload's
// PartsMark comes after it.
const WatchMark = 0x02

// JoinParts returns the value of field in the task hash h as lua/spill.lua
// was given it, its parts joined; any other value as it is. A value is
// parted only when its count is at least 1 and every part is there: an
// error text may itself begin with PartsMark, and the scripts delete an
// earlier value's parts before they write another (respill).
func JoinParts(h map[string]string, field, v string) string {
	at := 0
	if field == FieldPayload && len(v) > 0 && v[0] == WatchMark {
		at = 1
	}
	if len(v) < at+2 || v[at] != PartsMark || v[at+1] == 0 {
		return v
	}
	n := int(v[at+1])
	parts := make([]string, n)
	size := len(v)
	for i := range parts {
		p, ok := h[field+strconv.Itoa(i+1)]
		if !ok {
			return v // not parted; for a payload or a result, corrupt
		}
		parts[i], size = p, size+len(p)
	}
	var b strings.Builder
	b.Grow(size)
	b.WriteString(v[:at])
	b.WriteString(v[at+2:])
	for _, p := range parts {
		b.WriteString(p)
	}
	return b.String()
}
