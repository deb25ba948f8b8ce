package broker

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runq/runq/broker/internal/layout"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/results"
)

// QueueCounts is what a queue holds now, by status, with the time its
// oldest waiting task was created and the attempts its workers reported
// per step of time.
type QueueCounts struct {
	Pending   int64 // IDs in the list: queued tasks (and canceled ones' tombstones)
	Held      int64 // queued tasks waiting for a max_running slot of their name
	Scheduled int64 // tasks held back, retries, and tasks waiting for their turn under a rate
	Leased    int64 // taken by a worker and not finished
	Succeeded int64 // kept until their records expire (counted by the minute)
	Failed    int64
	Canceled  int64
	// OldestCreated is the creation time of the task at the head of the
	// list, from its ID; zero when the list is empty.
	OldestCreated time.Time
	// Steps maps the start of each step of time (ms) to the attempts
	// finished and failed in it.
	Steps map[int64]StepCount
	// Settings are the queue's settings, read with the counts.
	Settings QueueSettings
	// Names are the task names with limits in the queue, by name.
	Names []NameState
}

// StepCount counts the attempts of one queue finished in one step of time.
type StepCount struct{ Processed, Failed int64 }

// Counts reads what queue holds now, in two round trips (the second counts
// each lease's tasks; a third counts the held tasks of each name with a
// cap), so it is not a snapshot taken at one instant.
func (b *Broker) Counts(ctx context.Context, queue string) (QueueCounts, error) {
	if err := ValidQueue(queue); err != nil {
		return QueueCounts{}, err
	}
	var pending, held, scheduled, failed, canceled *redis.IntCmd
	var head *redis.StringCmd
	var tokens *redis.StringSliceCmd
	var steps, kept, settings, limits, running *redis.MapStringStringCmd
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		pending = p.LLen(ctx, b.keys.Pending(queue))
		head = p.LIndex(ctx, b.keys.Pending(queue), 0)
		scheduled = p.ZCard(ctx, b.keys.Scheduled(queue))
		kept = p.HGetAll(ctx, b.keys.Kept(queue))
		failed = p.ZCard(ctx, b.keys.Ended(queue, string(results.StatusFailed)))
		canceled = p.ZCard(ctx, b.keys.Ended(queue, string(results.StatusCanceled)))
		tokens = p.ZRange(ctx, b.keys.Leases(queue), 0, -1)
		steps = p.HGetAll(ctx, b.keys.Throughput(queue))
		settings = p.HGetAll(ctx, b.keys.Settings(queue))
		held = p.ZCard(ctx, b.keys.Held(queue))
		limits = p.HGetAll(ctx, b.keys.Limits(queue))
		running = p.HGetAll(ctx, b.keys.Running(queue))
		return nil
	})
	if err != nil && err != redis.Nil { // LINDEX of an empty list is nil
		return QueueCounts{}, fmt.Errorf("broker: counts of %s: %w", queue, err)
	}
	c := QueueCounts{Pending: pending.Val(), Held: held.Val(), Scheduled: scheduled.Val(), Succeeded: keptNow(kept.Val(), time.Now()),
		Failed: failed.Val(), Canceled: canceled.Val(), Steps: parseSteps(steps.Val()),
		Settings: parseSettings(settings.Val())}
	if id, err := layout.ParseIDText(head.Val()); err == nil {
		sec, nsec := id.Time().UnixTime()
		c.OldestCreated = time.Unix(sec, nsec).UTC()
	}
	if c.Leased, err = b.leased(ctx, queue, tokens.Val()); err != nil {
		return QueueCounts{}, fmt.Errorf("broker: counts of %s: %w", queue, err)
	}
	if c.Names, err = b.names(ctx, queue, limits.Val(), running.Val()); err != nil {
		return QueueCounts{}, fmt.Errorf("broker: counts of %s: %w", queue, err)
	}
	return c, nil
}

// leased counts the tasks held under the lease tokens of queue.
func (b *Broker) leased(ctx context.Context, queue string, tokens []string) (int64, error) {
	if len(tokens) == 0 {
		return 0, nil
	}
	cards := make([]*redis.IntCmd, len(tokens))
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, tok := range tokens {
			cards[i] = p.SCard(ctx, b.keys.LeaseTasks(queue, tok))
		}
		return nil
	})
	var n int64
	for _, c := range cards {
		n += c.Val()
	}
	return n, err
}

// keptNow sums a kept hash's counts of the minutes not yet over at now:
// the succeeded tasks whose records are still kept (those of the current
// minute until it ends).
func keptNow(h map[string]string, now time.Time) int64 {
	var n int64
	for minute, v := range h {
		ms, err := strconv.ParseInt(minute, 10, 64)
		if minute != "inf" && (err != nil || ms <= now.UnixMilli()) {
			continue
		}
		c, _ := strconv.ParseInt(v, 10, 64)
		n += c
	}
	return max(n, 0) // a purge counted before its tasks' worker reported them
}

// parseSteps reads a throughput hash: "<step_ms>:p" and "<step_ms>:f" ->
// count. Fields that do not parse are left out.
func parseSteps(h map[string]string) map[int64]StepCount {
	steps := make(map[int64]StepCount, len(h)/2)
	for field, v := range h {
		at, kind, ok := strings.Cut(field, ":")
		ms, err1 := strconv.ParseInt(at, 10, 64)
		n, err2 := strconv.ParseInt(v, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		s := steps[ms]
		switch kind {
		case "p":
			s.Processed += n
		case "f":
			s.Failed += n
		default:
			continue
		}
		steps[ms] = s
	}
	return steps
}

// Queues returns the names of every queue a worker serves or a client
// submitted to, sorted.
func (b *Broker) Queues(ctx context.Context) ([]string, error) {
	qs, err := b.rdb.SMembers(ctx, b.keys.Queues()).Result()
	if err != nil {
		return nil, fmt.Errorf("broker: list queues: %w", err)
	}
	slices.Sort(qs)
	return qs, nil
}

// AddQueues records queue names as known, for Queues.
func (b *Broker) AddQueues(ctx context.Context, queues ...string) error {
	if len(queues) == 0 {
		return nil
	}
	members := make([]any, len(queues))
	for i, q := range queues {
		if err := ValidQueue(q); err != nil {
			return err
		}
		members[i] = q
	}
	if err := b.rdb.SAdd(ctx, b.keys.Queues(), members...).Err(); err != nil {
		return fmt.Errorf("broker: record %d queues: %w", len(queues), err)
	}
	return nil
}

// Handlers returns every registered task name with the defaults its
// workers recorded, encoded as they gave them.
func (b *Broker) Handlers(ctx context.Context) (map[string]string, error) {
	h, err := b.rdb.HGetAll(ctx, b.keys.Handlers()).Result()
	if err != nil {
		return nil, fmt.Errorf("broker: list handlers: %w", err)
	}
	return h, nil
}
