package proctest

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

// statusFields are the fields of a task hash that broker.StatusOf reads.
var statusFields = []string{broker.FieldStatus, broker.FieldAttempt, broker.FieldMeta}

// Statuses reads the status of each task in ids straight from Redis, in
// one pipeline per 1,000, in the order of ids; a task with no hash reads
// as "". It reads three fields, not the whole record, so that tests of
// many thousand tasks can poll it.
func Statuses(ctx context.Context, rdb redis.UniversalClient, keys broker.Keys, ids []uuid.UUID) ([]results.Status, error) {
	out := make([]results.Status, 0, len(ids))
	for start := 0; start < len(ids); start += 1000 {
		chunk := ids[start:min(start+1000, len(ids))]
		cmds := make([]*redis.SliceCmd, len(chunk))
		_, err := rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, id := range chunk {
				cmds[i] = pipe.HMGet(ctx, keys.Task(id), statusFields...)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		for _, c := range cmds {
			h := make(map[string]string, len(statusFields))
			for i, v := range c.Val() {
				if s, ok := v.(string); ok {
					h[statusFields[i]] = s
				}
			}
			out = append(out, results.Status(broker.StatusOf(h)))
		}
	}
	return out, nil
}
