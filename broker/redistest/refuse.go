package redistest

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// RefuseWrites makes rdb answer every write runq makes (a script call,
// SET, HSET, and every pipeline) with the Redis error reply given, as a
// Redis out of memory, a read-only replica or one loading its data does;
// reads go through. The reply is as Redis words it: "OOM command not
// allowed when used memory > 'maxmemory'.".
func RefuseWrites(rdb *redis.Client, reply string) {
	rdb.AddHook(refuseWrites{refusal(reply)})
}

// refusal is a Redis error reply, as go-redis reports one.
type refusal string

func (e refusal) Error() string { return string(e) }
func (refusal) RedisError()     {}

type refuseWrites struct{ reply refusal }

func (h refuseWrites) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h refuseWrites) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		switch cmd.Name() {
		case "evalsha", "eval", "set", "hset":
			cmd.SetErr(h.reply)
			return h.reply
		}
		return next(ctx, cmd)
	}
}

func (h refuseWrites) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			cmd.SetErr(h.reply)
		}
		return h.reply
	}
}
