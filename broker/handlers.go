package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RegisterHandlers records task names that a worker can run, each with its
// defaults encoded by the caller, so that an API process elsewhere can refuse
// names nobody handles. A name registered again takes the newest defaults.
func (b *Broker) RegisterHandlers(ctx context.Context, defaults map[string]string) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	if len(defaults) == 0 {
		return nil
	}
	if err := b.rdb.HSet(ctx, b.keys.Handlers(), defaults).Err(); err != nil {
		return fmt.Errorf("broker: register %d handlers: %w", len(defaults), err)
	}
	return nil
}

// HandlerDefaults returns the defaults recorded for task name, and false when
// no worker has registered it.
func (b *Broker) HandlerDefaults(ctx context.Context, name string) (string, bool, error) {
	v, err := b.rdb.HGet(ctx, b.keys.Handlers(), name).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("broker: look up handler %q: %w", name, err)
	}
	return v, true, nil
}

// Ready reports whether Redis can serve runq now: it answers, and it takes
// a write (of a key that expires in ten seconds), which a Redis out of
// memory, a read-only replica or one that cannot save to disk refuses.
func (b *Broker) Ready(ctx context.Context) error {
	if err := b.rdb.Set(ctx, b.keys.Probe(), "1", 10*time.Second).Err(); err != nil {
		return fmt.Errorf("broker: ready: %w", err)
	}
	return nil
}
