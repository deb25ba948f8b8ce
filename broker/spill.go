package broker

import (
	"strconv"
	"strings"
)

// spillMark opens a payload or result of 65 to 317 bytes (as stored) that
// lua/spill.lua stored in parts, so that the task's hash keeps Redis's
// compact encoding: a value of 65 bytes or more in one field turns the
// whole hash into a hashtable, about 200 bytes more per task. The byte
// after it is the count n of the parts that follow the field's own 61
// bytes, in fields field+"1" to field+n. Neither JSON, packMark, hookMark
// nor watchMark is ever spillMark; a watchMark goes in front of it.
const spillMark = 0x03

// joinSpilled returns the value of field in the task hash h as spill.lua
// was given it, its parts joined; any other value as it is.
func joinSpilled(h map[string]string, field, v string) string {
	at := 0
	if len(v) > 0 && v[0] == watchMark {
		at = 1
	}
	if len(v) < at+2 || v[at] != spillMark {
		return v
	}
	n := int(v[at+1])
	var b strings.Builder
	b.Grow(len(v) + 64*n)
	b.WriteString(v[:at])
	b.WriteString(v[at+2:])
	for i := 1; i <= n; i++ {
		b.WriteString(h[field+strconv.Itoa(i)]) // a part gone leaves JSON that does not parse: corrupt
	}
	return b.String()
}
