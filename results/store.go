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
	h, err := s.rdb.HGetAll(ctx, s.keys.Task(id)).Result()
	if err != nil {
		return Record{}, fmt.Errorf("results: get %s: %w", id, err)
	}
	return Decode(id, h)
}
