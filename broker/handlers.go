package broker

import (
	"context"
	"fmt"
	"time"
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

// HandlerDefaults returns the defaults recorded for each of names, in one
// round trip: defaults[i] is those of names[i], and found[i] false when no
// worker has registered it.
func (b *Broker) HandlerDefaults(ctx context.Context, names []string) (defaults []string, found []bool, err error) {
	vs, err := b.rdb.HMGet(ctx, b.keys.Handlers(), names...).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("broker: look up %d handler names: %w", len(names), err)
	}
	defaults, found = make([]string, len(names)), make([]bool, len(names))
	for i, v := range vs {
		defaults[i], found[i] = v.(string)
	}
	return defaults, found, nil
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
