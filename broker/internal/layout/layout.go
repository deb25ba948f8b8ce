// Package layout names runq's Redis keys and the fields of a task's hash,
// and places a task's hash in its queue's Redis Cluster slot. It is
// internal to broker, which owns the layout; broker/redistest exposes what
// tests of other packages look at.
package layout

import "github.com/google/uuid"

// Keys names every Redis key and channel runq uses. Nothing else in runq
// builds a key name.
//
// The keys of one queue share the hash tag {queue}, so that every script
// touches one Redis Cluster slot:
//
//	runq:{default}:pending     list of task IDs waiting to run, oldest first
//	runq:{default}:leases      sorted set: lease token -> deadline (ms, Redis clock)
//	runq:{default}:lease:<tok> set: IDs taken under one lease and not yet finished
//	runq:{default}:scheduled   sorted set: task ID -> time it may run (ms): tasks
//	                           held back (status scheduled) and retries
//	runq:{default}:log         list: the IDs of the queue's tasks in the order
//	                           they were queued, dead ones trimmed from its head
//	runq:{default}:logbase     how many IDs were trimmed from the log's head:
//	                           a position in the log counted from its first entry
//	                           ever stays the same while the log grows and shrinks
//	runq:{default}:kept        hash: minute (ms) -> succeeded tasks whose records
//	                           expire in it ("inf": kept for good)
//	runq:{default}:failed      sorted set: task ID -> when its record expires
//	runq:{default}:canceled    (ms; +inf when kept): failed and canceled tasks
//	runq:{default}:throughput  hash: "<step_ms>:p" and "<step_ms>:f" -> attempts
//	                           finished and failed in that step, as workers report
//	runq:{default}:settings    hash: an operator's settings of the queue:
//	                           paused ("1"), max_length, max_running (decimal);
//	                           a field that is absent is unset; and limits
//	                           ("1" while the limits hash is not empty, kept
//	                           by the script that writes it)
//	runq:{default}:limits      hash: task name -> its limits in the queue,
//	                           "max_running,rate_count,rate_period_ms" ("0" unset),
//	                           written by every worker from its handlers
//	runq:{default}:running     hash: "*" -> tasks taken under leases that count
//	                           against max_running, "@<token>" -> 1 for each such
//	                           lease, and task name -> tasks of that name holding
//	                           one of its max_running slots
//	runq:{default}:held        sorted set, all scores 0: "<name> <id>" for each
//	                           task waiting for a slot of its name (by name, then
//	                           ID, which is by submission)
//	runq:{default}:rate        hash: task name -> the time its next turn is free
//	                           under its rate (ms, Redis clock)
//	runq:{default}:reserved    sorted set: places reserved in a bounded queue for
//	                           a batch that spans several queues, until it is
//	                           written: "<token>:<i>" -> expiry (ms)
//	runq:{default}:schedules   hash: the periodic schedules whose tasks go to the
//	                           queue, three fields each (see the ScheduleField*)
//	runq:{default}:broadcasts  sorted set: broadcast task ID -> created (ms):
//	                           the queue's broadcasts not yet ended
//	runq:{default}:inbox:<w>   list: IDs of broadcast tasks worker w is to run
//	                           and has not started, oldest first
//	runq:{default}:idem:<key>  string: the task that claimed an idempotency
//	                           key in the queue, "<id> i <digest of the
//	                           request>", expiring after the key's retention
//	runq:{default}:unique:<key> string: the task that claimed a unique key in
//	                           the queue, "<id> <hold>" (hold: f for a time,
//	                           s until started, F until finished), expiring
//	                           when a hold for a time ends (else a bound);
//	                           the claim is void, whatever its expiry, once
//	                           its task's status ends the hold (claim_keys.lua)
//	runq:{default}:cancels     sorted set: task ID -> when a cancel of it was
//	                           asked while it ran (ms), for workers that missed
//	                           the "cancel" event; trimmed after a day
//	runq:{default}:hooks       sorted set: ID of an ended task with a callback
//	                           URL -> when its webhook is next tried (ms, Redis
//	                           clock); a delivery in flight is pushed a
//	                           visibility period ahead, so one process sends it
//
// A lease covers one claim's batch of tasks, not each task, so taking,
// renewing and finishing cost commands per batch, not per task. A token is
// in leases exactly while its set is not empty.
//
// A task's hash is named by its ID: the tag of its queue's slot (the
// slot is carried inside the ID; see NewID), then the first 18 digits of
// its IDText, whose last 3 are that tag:
//
//	runq:{3aX}:-0Zz21U0dwKt...     hash: the Field* fields
//	runq:{3aX}:-0Zz21U0dwKt...:e   stream: the task's events, written only
//	                               while the task is watched (FieldWatched)
//
// A broadcast task has a second hash beside it, in the same slot, that
// expires with it:
//
//	runq:{3aX}:-0Zz21U0dwKt...:b   hash: target worker ID -> its answer,
//	                               "status,started_ms,finished_ms,text"
//
// The key has no more in it than it needs: with a prefix of up to 5 bytes
// (runq) it is at most 30 bytes, which Redis stores with a one-byte header
// in an allocation of 32 bytes; from 31 bytes on it takes 48, on every
// task.
//
// The rest are global: runq:handlers (hash: task name -> handler defaults,
// written by workers), runq:queues (set: every queue a worker serves or a
// client submitted to), runq:{workers} (sorted set: worker ID -> last
// heartbeat, ms) with runq:{workers}:info (hash: worker ID -> its JSON),
// one slot for the two, the pub/sub channel runq:done (IDs of tasks that
// reached a terminal status, separated by spaces), and the pub/sub channel
// runq:events, which tells every process of changes it should act on at
// once ("settings <queue>" when a queue's settings changed, "due <queue>
// <ms>" when a task was scheduled earlier than any other of its queue,
// "room <queue>" when a queue that held its max_length has room again,
// "slot <queue>" when a queue that ran its max_running tasks has a slot
// free again, "broadcast <queue>" when a broadcast task of the queue was
// put in its targets' inboxes, "cancel <queue> <id>" when a cancel of a
// running task was asked, "watch <queue> <id>" when a running task gained
// an event stream). The pub/sub channel runq:changes carries the ID of a
// watched task each time an event joins its stream. One more key,
// runq:probe, is written by readiness checks and expires.
type Keys struct {
	Prefix string // "runq", or a prefix of the caller's
}

func (k Keys) q(queue string) string { return k.Prefix + ":{" + queue + "}:" }

// Pending names the list of IDs waiting in queue.
func (k Keys) Pending(queue string) string { return k.q(queue) + "pending" }

// Leases names the sorted set of queue's lease tokens, scored by deadline.
func (k Keys) Leases(queue string) string { return k.q(queue) + "leases" }

// LeaseTasks names the set of IDs taken under the lease token and not yet
// finished. It doubles as the take's receipt, which makes take.lua
// idempotent.
func (k Keys) LeaseTasks(queue, token string) string { return k.q(queue) + "lease:" + token }

// Scheduled names the sorted set of IDs waiting for a time: tasks held
// back and retries.
func (k Keys) Scheduled(queue string) string { return k.q(queue) + "scheduled" }

// Log names the list of the IDs of queue's tasks, in the order they were
// queued.
func (k Keys) Log(queue string) string { return k.q(queue) + "log" }

// LogBase names the count of IDs trimmed from the head of queue's log.
func (k Keys) LogBase(queue string) string { return k.q(queue) + "logbase" }

// Kept names the hash of queue's succeeded tasks counted by the minute
// their records expire.
func (k Keys) Kept(queue string) string { return k.q(queue) + "kept" }

// Ended names the sorted set of queue's tasks that ended with status
// (failed or canceled), scored by when their records expire.
func (k Keys) Ended(queue, status string) string { return k.q(queue) + status }

// Throughput names the hash of the attempts queue's workers finished, per
// step of time.
func (k Keys) Throughput(queue string) string { return k.q(queue) + "throughput" }

// Settings names the hash of queue's settings.
func (k Keys) Settings(queue string) string { return k.q(queue) + "settings" }

// Schedules names the hash of the periodic schedules whose tasks go to
// queue: what each was declared as, when, and its last tick.
func (k Keys) Schedules(queue string) string { return k.q(queue) + "schedules" }

// Limits names the hash of the limits of task names in queue.
func (k Keys) Limits(queue string) string { return k.q(queue) + "limits" }

// Running names the hash of queue's counts of tasks holding max_running
// slots.
func (k Keys) Running(queue string) string { return k.q(queue) + "running" }

// Held names the sorted set of queue's tasks waiting for a slot of their
// name.
func (k Keys) Held(queue string) string { return k.q(queue) + "held" }

// Reserved names the sorted set of places reserved in queue for batches
// that span several queues.
func (k Keys) Reserved(queue string) string { return k.q(queue) + "reserved" }

// Rate names the hash of the next free turn of each rate-limited name of
// queue.
func (k Keys) Rate(queue string) string { return k.q(queue) + "rate" }

// Queues names the set of known queue names.
func (k Keys) Queues() string { return k.Prefix + ":queues" }

// Workers names the sorted set of worker IDs by last heartbeat (ms, Redis
// clock).
func (k Keys) Workers() string { return k.Prefix + ":{workers}" }

// WorkerInfo names the hash of worker ID -> the JSON it last reported.
func (k Keys) WorkerInfo() string { return k.Prefix + ":{workers}:info" }

// Task names the hash of the task with the given ID. The ID's slot bits
// choose the hash tag, so the key lands in its queue's slot.
func (k Keys) Task(id uuid.UUID) string {
	// One allocation: the converted bytes are only an operand of the
	// concatenation, so Go does not copy them into a string of their own.
	var text [KeyIDLen]byte
	encodeID(&text, id)
	return k.Prefix + ":{" + slotTags()[IDSlot(id)] + "}:" + string(text[:])
}

// Handlers names the hash of registered task names and their defaults.
func (k Keys) Handlers() string { return k.Prefix + ":handlers" }

// Done names the pub/sub channel that carries the IDs of tasks that
// reached a terminal status.
func (k Keys) Done() string { return k.Prefix + ":done" }

// Events names the pub/sub channel of changes that every process acts on.
func (k Keys) Events() string { return k.Prefix + ":events" }

// Probe names the key a readiness check writes to learn whether Redis
// takes writes.
func (k Keys) Probe() string { return k.Prefix + ":probe" }

// Idempotency names the claim of idempotency key in queue (see claim_keys.lua).
func (k Keys) Idempotency(queue, key string) string { return k.q(queue) + "idem:" + key }

// Unique names the claim of unique key in queue (see claim_keys.lua).
func (k Keys) Unique(queue, key string) string { return k.q(queue) + "unique:" + key }

// Hooks names the sorted set of queue's tasks whose webhook is to be
// delivered, scored by the time of the next attempt (ms, Redis clock).
func (k Keys) Hooks(queue string) string { return k.q(queue) + "hooks" }

// IDOfKey returns the IDText of the task whose key (from Keys.Task) is
// key: the digits that end it, then its tag.
func IDOfKey(key string) string {
	n := len(key)
	return key[n-KeyIDLen:] + key[n-KeyIDLen-2-TagLen:n-KeyIDLen-2]
}

// Fields of a task hash. Redis stores the field names in every hash, so
// they are one or two letters, and what is read and written together is
// one field (meta, attempt): fewer and shorter fields cost less memory and
// less Redis CPU on every task. The Lua scripts spell the same letters.
const (
	FieldMeta     = "m"  // "max_retries,timeout_ms,ttl_ms,queue,name"; a default number is empty, durations may end in an exponent ("6e4")
	FieldStatus   = "s"  // a results.Status; absent until written (broker's statusOf)
	FieldPayload  = "p"  // JSON (marked, maybe packed); from 65 to 317 bytes, in parts: "p", "p1"... (lua/spill.lua)
	FieldResult   = "r"  // JSON once succeeded (maybe packed), in parts as the payload
	FieldError    = "e"  // the last failed attempt's error, in parts as the payload
	FieldAttempt  = "at" // "token,started_ms,number" of the last attempt started
	FieldFailures = "f"  // attempts that returned an error
	FieldCrashes  = "c"  // attempts whose worker was lost
	FieldCreated  = "ct" // ms, Redis clock, less the ms the ID carries (IDMillis): a byte or two, not eight
	FieldRunAt    = "ra" // ms, Redis clock: when a task held back falls due
	FieldFinished = "ft" // ms, when it became terminal
	FieldSlot     = "sl" // "1" while the running attempt holds a max_running slot of its name
	FieldTurn     = "rt" // ms: the turn under its name's rate booked for the task's next start
	FieldCallback = "cb" // the callback URL a webhook delivers the final record to; absent: none; in parts as the payload
	FieldWebhook  = "wh" // JSON: the webhook's delivery state (results.WebhookDelivery), once tried; in parts as the payload
)

// FieldBroadcast, in a broadcast task's hash, is its number of target
// workers; their answers are in the hash named by BroadcastResults.
const FieldBroadcast = "b"

// Counters in a broadcast task's hash, kept by its scripts so that each
// answer costs the same however many targets: its answers not final yet
// (pending or running), and those failed and missing.
const (
	FieldBroadcastOpen    = "bo"
	FieldBroadcastFailed  = "bf"
	FieldBroadcastMissing = "bm"
)

// Fields of a queue's schedules hash, each followed by the schedule's ID.
// The Lua scripts spell the same prefixes.
const (
	ScheduleFieldInfo     = "d:" // the schedule as declared (JSON, tasks.ScheduleInfo)
	ScheduleFieldDeclared = "s:" // ms, Redis clock: when a process last declared it or ran its tick
	ScheduleFieldRun      = "r:" // "tick_ms,task_id" of the last tick that created a task
)

// Broadcasts names the sorted set of queue's broadcast tasks that have not
// ended, scored by when they were created (ms).
func (k Keys) Broadcasts(queue string) string { return k.q(queue) + "broadcasts" }

// Inbox names the list of broadcast task IDs that worker is to run from
// queue.
func (k Keys) Inbox(queue, worker string) string { return k.q(queue) + "inbox:" + worker }

// BroadcastResults names the hash of the answers of a broadcast task's
// target workers, beside the task's hash and in its slot.
func (k Keys) BroadcastResults(id uuid.UUID) string { return k.Task(id) + BroadcastSuffix }

// BroadcastSuffix follows a task's key in the name of its answers hash
// (BroadcastResults), for callers that hold the task's key.
const BroadcastSuffix = ":b"

// Cancels names the sorted set of queue's tasks whose cancel was asked
// while they ran, scored by when (ms, Redis clock).
func (k Keys) Cancels(queue string) string { return k.q(queue) + "cancels" }

// TaskEvents names the stream of the events of task id, beside its hash in
// the same slot.
func (k Keys) TaskEvents(id uuid.UUID) string { return k.Task(id) + ":e" }

// Changes names the pub/sub channel that carries the ID of a watched task
// when an event joins its stream.
func (k Keys) Changes() string { return k.Prefix + ":changes" }

// Fields of a task hash for cancelling, progress and event streams. The
// Lua scripts spell the same letters.
const (
	FieldCancel   = "cx" // ms: when a cancel was asked while the task ran
	FieldProgress = "pg" // JSON {"value":..,"message":..,"at":ms} of the last progress written
	FieldWatched  = "w"  // "1" once an event stream follows the task; its payload then opens with broker's watchMark
)

// FieldUnique, in the hash of a task that claimed a unique key, is
// "kind,key" (kind a broker.KeyKind), so that canceling it can delete its
// claim (broker.ReleaseUnique). Written only for such tasks.
const FieldUnique = "u"
