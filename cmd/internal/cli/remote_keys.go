package cli

import (
	"flag"
	"time"

	"github.com/runq/runq/tasks"
)

// submitKeys are the flags of `runq submit` that give a task keys.
type submitKeys struct {
	uniqueKey   string
	uniqueFor   time.Duration
	uniqueUntil string
}

// keyFlags defines the key flags of `runq submit` on fs: the idempotency
// key and on-conflict go to req as parsed; the unique key and its hold,
// by apply.
func keyFlags(fs *flag.FlagSet, req *tasks.Request) *submitKeys {
	k := new(submitKeys)
	fs.StringVar(&req.IdempotencyKey, "idempotency-key", "", "`KEY`: a resubmission with it returns the first task (within the API's --idempotency-ttl)")
	fs.StringVar(&k.uniqueKey, "unique-key", "", "`KEY` only one task holds in its queue: with --unique-for or --unique-until")
	fs.Var((*durationValue)(&k.uniqueFor), "unique-for", "hold the unique key this `DURATION` after the submission")
	fs.StringVar(&k.uniqueUntil, "unique-until", "", "hold the unique key until the task has `started` or `finished`")
	fs.StringVar(&req.OnConflict, "on-conflict", "", "`return` (default) the task holding the unique key, or `reject` the submission")
	return k
}

// apply sets req's Unique from the flags; Validate checks them.
func (k *submitKeys) apply(req *tasks.Request) {
	if k.uniqueKey != "" || k.uniqueFor != 0 || k.uniqueUntil != "" {
		req.Unique = &tasks.Unique{Key: k.uniqueKey, For: k.uniqueFor, Until: k.uniqueUntil}
	}
}
