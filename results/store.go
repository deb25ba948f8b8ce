package results

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
)

// Store reads task records from Redis.
type Store struct {
	rdb  redis.UniversalClient
	keys broker.Keys
}

// NewStore returns a Store reading with rdb under the key layout keys.
func NewStore(rdb redis.UniversalClient, keys broker.Keys) *Store {
	return &Store{rdb: rdb, keys: keys}
}

// Get returns the record of task id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (Record, error) {
	return decodeReply(id, s.rdb.HGetAll(ctx, s.keys.Task(id)))
}

// decodeReply decodes the reply of HGETALL on task id's hash.
func decodeReply(id uuid.UUID, cmd *redis.MapStringStringCmd) (Record, error) {
	h, err := cmd.Result()
	if err != nil {
		return Record{}, fmt.Errorf("results: get %s: %w", id, err)
	}
	return Decode(id, h)
}

// getMany reads the records of ids in one pipeline: recs[i] and errs[i] are
// what Get(ctx, ids[i]) returns.
func (s *Store) getMany(ctx context.Context, ids []uuid.UUID) (recs []Record, errs []error) {
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, s.keys.Task(id))
		}
		return nil
	}) // a failed pipeline leaves its error on every command
	recs, errs = make([]Record, len(ids)), make([]error, len(ids))
	for i, id := range ids {
		recs[i], errs[i] = decodeReply(id, cmds[i])
	}
	return recs, errs
}
