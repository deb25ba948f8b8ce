package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker/internal/layout"
)

// noteUnique adds to pipe, after the enqueue of the tasks at idx, the
// writing of each one's unique key into its hash (layout.FieldUnique),
// for ReleaseUnique.
func (b *Broker) noteUnique(ctx context.Context, pipe redis.Pipeliner, ts []NewTask, idx []int) {
	for _, i := range idx {
		for _, cl := range ts[i].Keys {
			if cl.Kind != KeyIdempotency {
				uniqueNoteScript.EvalSha(ctx, pipe, []string{b.keys.Task(ts[i].ID)}, string(cl.Kind)+","+cl.Key)
			}
		}
	}
}

// ReleaseUnique deletes the claim of the unique key of canceled task id,
// if it holds one: a claim whose holder is canceled is free already, and
// this keeps it from lingering until its expiry. It reports whether a
// claim was deleted; a task without a unique key costs one HMGET.
func (b *Broker) ReleaseUnique(ctx context.Context, id uuid.UUID) (bool, error) {
	hash := b.keys.Task(id)
	f, err := b.rdb.HMGet(ctx, hash, layout.FieldMeta, layout.FieldUnique).Result()
	if err != nil {
		return false, fmt.Errorf("broker: release unique key of %s: %w", id, err)
	}
	m, _ := f[0].(string)
	u, _ := f[1].(string)
	_, key, ok := strings.Cut(u, ",")
	if !ok {
		return false, nil
	}
	pm, err := parseMeta(m)
	if err != nil {
		return false, fmt.Errorf("broker: release unique key of %s: %w", id, err)
	}
	n, err := uniqueReleaseScript.Run(ctx, b.rdb, []string{hash, b.keys.Unique(pm.queue, key)}, layout.IDText(id)).Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("broker: release unique key of %s: %w", id, err)
	}
	return n == 1, nil
}
