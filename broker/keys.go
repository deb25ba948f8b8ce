package broker

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// DefaultPrefix is the key prefix used when Keys.Prefix is empty.
const DefaultPrefix = "runq"

// Fields of a task hash. Redis stores the field names in every hash, so
// they are one or two letters, and what is read and written together is
// one field (Meta, Attempt): fewer and shorter fields cost less memory and
// less Redis CPU on every task. MEMORY USAGE of a queued task's hash with a
// 23-byte payload: 264 bytes with words for names, 216 with these letters
// in ten fields, 200 with Meta and Attempt, 184 now that a queued task's
// status is left out (StatusOf). The Lua scripts spell the same letters.
const (
	FieldMeta     = "m"  // Meta: "max_retries,timeout_ms,ttl_ms,queue,name"
	FieldStatus   = "s"  // a results.Status; absent until written (StatusOf)
	FieldPayload  = "p"  // JSON
	FieldResult   = "r"  // JSON, once succeeded
	FieldError    = "e"  // the last attempt's error
	FieldAttempt  = "at" // Attempt: "token,started_ms,number" of the last attempt started
	FieldFailures = "f"  // attempts that returned an error
	FieldCrashes  = "c"  // attempts whose worker was lost
	FieldCreated  = "ct" // ms, Redis clock
	FieldFinished = "ft" // ms, when it became terminal
)

// Keys names every Redis key and channel runq uses. Nothing else in runq
// builds a key name.
//
// Keys of one queue share the hash tag {queue}:
//
//	runq:{default}:pending     list of task IDs waiting to run, oldest first
//	runq:{default}:leases      sorted set: lease token -> deadline (ms, Redis clock)
//	runq:{default}:lease:<tok> set: IDs taken under one lease and not yet finished
//	runq:{default}:scheduled   sorted set: task ID -> time it may run again (ms)
//
// A lease covers one claim's batch of tasks, not each task, so taking,
// renewing and finishing cost commands per batch, not per task. A token is
// in leases exactly while its set is not empty.
//
// A task's hash is named by its ID, with a hash tag chosen to fall in the
// same slot as its queue's tag (the slot is carried inside the ID; see NewID):
//
//	runq:{3ax}:t:0193f0c27c1a...   hash: the Field* fields above
//
// Two keys are global, each used alone: runq:handlers (hash: task name ->
// handler defaults, written by workers) and the pub/sub channel runq:done
// (IDs of tasks that reached a terminal status).
type Keys struct {
	// Prefix starts every key; empty means DefaultPrefix. Tests use a prefix
	// of their own to isolate themselves on a shared Redis.
	Prefix string
}

func (k Keys) prefix() string {
	if k.Prefix == "" {
		return DefaultPrefix
	}
	return k.Prefix
}

func (k Keys) q(queue string) string { return k.prefix() + ":{" + queue + "}:" }

// Pending names the list of IDs waiting in queue.
func (k Keys) Pending(queue string) string { return k.q(queue) + "pending" }

// Leases names the sorted set of queue's lease tokens, scored by deadline.
func (k Keys) Leases(queue string) string { return k.q(queue) + "leases" }

// LeaseTasks names the set of IDs taken under the lease token and not yet
// finished. It doubles as the take's receipt, which makes take.lua
// idempotent.
func (k Keys) LeaseTasks(queue, token string) string { return k.q(queue) + "lease:" + token }

// Scheduled names the sorted set of IDs waiting for a retry time.
func (k Keys) Scheduled(queue string) string { return k.q(queue) + "scheduled" }

// Task names the hash of the task with the given ID. The ID's slot bits
// choose the hash tag, so the key lands in its queue's slot.
func (k Keys) Task(id uuid.UUID) string {
	// One allocation: the converted bytes are only an operand of the
	// concatenation, so Go does not copy them into a string of their own.
	var text [idTextLen]byte
	hex.Encode(text[:], id[:])
	return k.prefix() + ":{" + slotTags()[idSlot(id)] + "}:t:" + string(text[:])
}

// IDText is a task ID as Redis holds it, in keys, lists, sets and on the
// done channel: 32 lowercase hex digits, without the dashes of the
// canonical form that the API shows (4 bytes less in every queue entry and
// key). uuid.Parse reads both forms.
func IDText(id uuid.UUID) string { return hex.EncodeToString(id[:]) }

// idTextLen is the length of IDText.
const idTextLen = 32

// idOfKey returns the IDText at the end of a key from Task, without copying.
func idOfKey(key string) string { return key[len(key)-idTextLen:] }

// oldOwners names the hash from leased ID to lease token of builds that
// leased each task on its own; only reap_task.lua reads it, to hand back
// what their dead workers left.
func (k Keys) oldOwners(queue string) string { return k.q(queue) + "owners" }

// Handlers names the hash of registered task names and their defaults.
func (k Keys) Handlers() string { return k.prefix() + ":handlers" }

// DoneChannel names the pub/sub channel that carries IDs of tasks that
// reached a terminal status.
func (k Keys) DoneChannel() string { return k.prefix() + ":done" }

// MatchAll is a SCAN pattern for every key under this prefix.
func (k Keys) MatchAll() string { return k.prefix() + ":*" }

// MaxQueueLen is the longest accepted queue name.
const MaxQueueLen = 64

// ErrBadQueue reports a queue name that cannot be used in a key.
var ErrBadQueue = errors.New("broker: invalid queue name")

// ValidQueue reports whether name can be a queue: 1 to 64 ASCII letters,
// digits, '_', '.' or '-'. Braces, colons and spaces are refused because
// they would change the key's hash tag or its readability.
func ValidQueue(name string) error {
	if name == "" || len(name) > MaxQueueLen || !queueBytes(name) {
		return fmt.Errorf("%w %q: use 1-%d letters, digits, '_', '.' or '-'", ErrBadQueue, name, MaxQueueLen)
	}
	return nil
}

// queueBytes reports whether every byte of name is an ASCII letter, digit,
// '_', '.' or '-'. (A regexp did the same at 7% of the API's CPU while it
// took batches of 1,000 tasks: every task's queue is checked.)
func queueBytes(name string) bool {
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}
