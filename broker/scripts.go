package broker

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// Each script is run with EVALSHA, falling back to EVAL on NOSCRIPT
// (redis.Script.Run), because miniredis has no Redis Functions. Every script
// opens with a header listing its KEYS, ARGV and reply.

var (
	//go:embed lua/enqueue.lua
	enqueueSrc    string
	enqueueScript = redis.NewScript(enqueueSrc)

	//go:embed lua/take.lua
	takeSrc    string
	takeScript = redis.NewScript(takeSrc)

	//go:embed lua/start.lua
	startSrc    string
	startScript = redis.NewScript(startSrc)

	//go:embed lua/renew.lua
	renewSrc    string
	renewScript = redis.NewScript(renewSrc)

	//go:embed lua/finish.lua
	finishSrc    string
	finishScript = redis.NewScript(finishSrc)

	//go:embed lua/expired.lua
	expiredSrc    string
	expiredScript = redis.NewScript(expiredSrc)

	//go:embed lua/reap.lua
	reapSrc    string
	reapScript = redis.NewScript(reapSrc)

	//go:embed lua/reap_task.lua
	reapTaskSrc    string
	reapTaskScript = redis.NewScript(reapTaskSrc)

	//go:embed lua/promote.lua
	promoteSrc    string
	promoteScript = redis.NewScript(promoteSrc)

	//go:embed lua/cancel.lua
	cancelSrc    string
	cancelScript = redis.NewScript(cancelSrc)
)
