package tasks

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runq/runq/broker"
)

// redisHealth logs Redis's availability, as a pool sees it, once per
// change: when a call first fails because Redis cannot serve it (down, out
// of memory, read-only...) and when a call succeeds again, rather than on
// every retry while the outage lasts.
type redisHealth struct {
	log  *slog.Logger
	down atomic.Bool // fast path of ok: read on every successful call

	mu     sync.Mutex
	why    string    // what the last failure said; "" while Redis serves
	since  time.Time // when the outage began
	missed int       // calls failed since, past the first
}

// failed reports whether err means Redis cannot serve the pool now, and
// logs it when that is news (a first failure, or another reason). A false
// return leaves the caller to log err: it is not Redis being unavailable.
func (h *redisHealth) failed(op string, err error) bool {
	why, ok := broker.Unavailable(err)
	if !ok {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if why == h.why {
		h.missed++
		return true
	}
	if h.why == "" {
		h.since = time.Now()
	}
	h.why, h.missed = why, 0
	h.down.Store(true)
	h.log.Error("Redis unavailable: the worker keeps retrying", "why", why, "op", op, "err", err)
	return true
}

// ok records a call that Redis served, sent at began, logging the end of an
// outage. Only a call whose first write is one Redis refuses when out of
// memory or read-only tells it: a wait (BLMOVE), a start that started a
// task (its hash's HSET), a finish that applied an outcome (likewise), a
// schedule tick that created its task. Such a Redis still serves reads,
// and scripts that write nothing: a take of an empty queue, a finish of
// attempts whose leases were lost. Out of memory, it even serves a take
// that pops tasks: Redis 7 refuses a script's denyoom command (HSET, ZADD,
// SADD...) only while the script has written nothing, and a take's first
// write is LPOP, which frees memory; so a take is never a proof, the start
// that follows is. A call sent before the outage was seen proves nothing
// of now: a BLMOVE blocked since before Redis ran out of memory still
// returns.
func (h *redisHealth) ok(began time.Time) {
	if !h.down.Load() {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.why == "" || began.Before(h.since) {
		return
	}
	h.log.Info("Redis available again", "was", h.why, "for", time.Since(h.since).Round(time.Millisecond), "failed_calls", h.missed+1)
	h.why, h.missed = "", 0
	h.down.Store(false)
}
