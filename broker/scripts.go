package broker

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// Each script is run with EVALSHA, falling back to EVAL on NOSCRIPT
// (redis.Script.Run), because miniredis has no Redis Functions. Every script
// opens with a header listing its KEYS, ARGV and reply. Scripts that read a
// task's status, its result TTL or its ID from its key begin with
// lua/status.lua, the one place that tells a status left out of a hash
// (see statusOf), reads the TTL in a meta field and the ID in a key (so do
// those that begin with lua/gate.lua, which reads IDs); those that start or end
// attempts then with lua/gate.lua, the one place that keeps the queue's
// max_running counts and the limits of task names; those that start tasks
// then with lua/start_task.lua, the one place that starts one. Those that
// write or read a payload, a result, an error, a callback URL or a
// webhook's state also begin with lua/spill.lua, the one place that stores
// a long value in parts. Those that create tasks begin with
// lua/created.lua, the one place that reads and writes a creation time.

//go:embed lua/status.lua
var statusSrc string

//go:embed lua/gate.lua
var gateSrc string

//go:embed lua/start_task.lua
var startTaskSrc string

//go:embed lua/spill.lua
var spillSrc string

//go:embed lua/created.lua
var createdSrc string

var (
	//go:embed lua/enqueue.lua
	enqueueSrc    string
	enqueueScript = redis.NewScript(createdSrc + spillSrc + enqueueSrc)

	//go:embed lua/hold.lua
	holdSrc    string
	holdScript = redis.NewScript(holdSrc)

	//go:embed lua/take.lua
	takeSrc    string
	takeScript = redis.NewScript(statusSrc + gateSrc + spillSrc + startTaskSrc + takeSrc)

	//go:embed lua/start.lua
	startSrc    string
	startScript = redis.NewScript(statusSrc + gateSrc + spillSrc + startTaskSrc + startSrc)

	//go:embed lua/renew.lua
	renewSrc    string
	renewScript = redis.NewScript(renewSrc)

	//go:embed lua/finish.lua
	finishSrc    string
	finishScript = redis.NewScript(statusSrc + gateSrc + spillSrc + finishSrc)

	//go:embed lua/expired.lua
	expiredSrc    string
	expiredScript = redis.NewScript(expiredSrc)

	//go:embed lua/reap.lua
	reapSrc    string
	reapScript = redis.NewScript(statusSrc + gateSrc + spillSrc + reapSrc)

	//go:embed lua/due.lua
	dueSrc    string
	dueScript = redis.NewScript(dueSrc)

	//go:embed lua/promote.lua
	promoteSrc    string
	promoteScript = redis.NewScript(promoteSrc)

	//go:embed lua/set_limits.lua
	setLimitsSrc    string
	setLimitsScript = redis.NewScript(statusSrc + gateSrc + setLimitsSrc)

	//go:embed lua/cancel.lua
	cancelSrc    string
	cancelScript = redis.NewScript(statusSrc + cancelSrc)
)

var (
	//go:embed lua/retry.lua
	retrySrc    string
	retryScript = redis.NewScript(statusSrc + spillSrc + retrySrc)

	//go:embed lua/purge.lua
	purgeSrc    string
	purgeScript = redis.NewScript(statusSrc + purgeSrc)

	//go:embed lua/purge_queued.lua
	purgeQueuedSrc    string
	purgeQueuedScript = redis.NewScript(statusSrc + purgeQueuedSrc)

	//go:embed lua/purge_held.lua
	purgeHeldSrc    string
	purgeHeldScript = redis.NewScript(statusSrc + purgeHeldSrc)
)

//go:embed lua/page.lua
var pageSrc string
var pageScript = redis.NewScript(pageSrc)

var (
	//go:embed lua/heartbeat.lua
	heartbeatSrc    string
	heartbeatScript = redis.NewScript(heartbeatSrc)

	//go:embed lua/workers.lua
	workersSrc    string
	workersScript = redis.NewScript(workersSrc)
)

var (
	//go:embed lua/log_read.lua
	logReadSrc    string
	logReadScript = redis.NewScript(logReadSrc)

	//go:embed lua/tidy.lua
	tidySrc    string
	tidyScript = redis.NewScript(tidySrc)
)

var (
	//go:embed lua/schedule_declare.lua
	scheduleDeclareSrc    string
	scheduleDeclareScript = redis.NewScript(scheduleDeclareSrc)

	//go:embed lua/schedule_tick.lua
	scheduleTickSrc    string
	scheduleTickScript = redis.NewScript(createdSrc + spillSrc + scheduleTickSrc)
)

//go:embed lua/retry_ended.lua
var retryEndedSrc string
var retryEndedScript = redis.NewScript(statusSrc + spillSrc + retryEndedSrc)

var (
	//go:embed lua/broadcast_enqueue.lua
	broadcastEnqueueSrc    string
	broadcastEnqueueScript = redis.NewScript(createdSrc + broadcastEnqueueSrc)

	//go:embed lua/broadcast_start.lua
	broadcastStartSrc    string
	broadcastStartScript = redis.NewScript(broadcastStartSrc)

	//go:embed lua/broadcast_answer.lua
	broadcastAnswerSrc    string
	broadcastAnswerScript = redis.NewScript(statusSrc + broadcastAnswerSrc)
)

var (
	//go:embed lua/claim_keys.lua
	claimKeysSrc string
	// enqueueKeyedScript is enqueue.lua behind the claims of tasks that
	// carry idempotency or unique keys; plain tasks run enqueueScript.
	enqueueKeyedScript = redis.NewScript(statusSrc + createdSrc + claimKeysSrc + spillSrc + enqueueSrc)
)

//go:embed lua/note.lua
var noteSrc string

var (
	//go:embed lua/progress.lua
	progressSrc    string
	progressScript = redis.NewScript(statusSrc + noteSrc + progressSrc)
)

var (
	//go:embed lua/watch.lua
	watchSrc    string
	watchScript = redis.NewScript(statusSrc + watchSrc)

	//go:embed lua/event.lua
	eventSrc    string
	eventScript = redis.NewScript(statusSrc + noteSrc + eventSrc)
)

var (
	//go:embed lua/hook_claim.lua
	hookClaimSrc    string
	hookClaimScript = redis.NewScript(hookClaimSrc)

	//go:embed lua/hook_done.lua
	hookDoneSrc    string
	hookDoneScript = redis.NewScript(spillSrc + hookDoneSrc)
)

var (
	//go:embed lua/broadcast_drop.lua
	broadcastDropSrc    string
	broadcastDropScript = redis.NewScript(broadcastDropSrc)
)

var (
	//go:embed lua/unique_note.lua
	uniqueNoteSrc    string
	uniqueNoteScript = redis.NewScript(uniqueNoteSrc)

	//go:embed lua/unique_release.lua
	uniqueReleaseSrc    string
	uniqueReleaseScript = redis.NewScript(uniqueReleaseSrc)
)
