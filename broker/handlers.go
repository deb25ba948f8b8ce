package broker

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// RegisterHandlers records task names that a worker can run, each with its
// defaults encoded by the caller, so that an API process elsewhere can refuse
// names nobody handles. A name registered again takes the newest defaults.
func (b *Broker) RegisterHandlers(ctx context.Context, defaults map[string]string) error {
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

// Ping checks that Redis answers.
func (b *Broker) Ping(ctx context.Context) error {
	if err := b.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("broker: ping: %w", err)
	}
	return nil
}
