package wirejson

import "github.com/runq/runq/tasks"

// laterField is field for the fields added after the options: broadcast,
// idempotency_key, unique and on_conflict. The value is not null.
func (s *scanner) laterField(bit int, r *tasks.Request) bool {
	switch bit {
	case fieldBroadcast:
		r.Broadcast = s.literal("true")
		return r.Broadcast || s.literal("false")
	case fieldIdempotencyKey:
		return s.text(&r.IdempotencyKey, new(string))
	case fieldUnique:
		return s.unique(r)
	case fieldOnConflict:
		return s.text(&r.OnConflict, new(string))
	}
	return false
}

// maxRetries reads max_retries into r: 0 is NoRetries, as the strict
// decoder reads it.
func (s *scanner) maxRetries(r *tasks.Request) bool {
	n, ok := s.integer()
	if !ok || n < 0 || n > tasks.MaxRetriesLimit {
		return false // the strict decoder words the refusal
	}
	if n == 0 {
		n = tasks.NoRetries
	}
	r.MaxRetries = n
	return true
}
