package broker

// StatusOf reads a task's status from the fields of its hash. enqueue.lua
// and a task's first start leave FieldStatus out (one field fewer to write
// per task, the usual case): absent, it is "queued" until an attempt has
// started (FieldAttempt is there) and "running" after. Every later status
// is written, and a hash of an earlier build always holds one. A hash with
// neither a status nor FieldMeta, which enqueue.lua always writes, is not
// a task's: its status is "". (The scripts tell the same way: start.lua
// reads the meta anyway.)
func StatusOf(h map[string]string) string {
	if s, ok := h[FieldStatus]; ok {
		return s
	}
	if _, ok := h[FieldMeta]; !ok {
		return ""
	}
	if _, started := h[FieldAttempt]; started {
		return "running"
	}
	return "queued"
}
