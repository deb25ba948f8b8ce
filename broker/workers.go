package broker

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Heartbeat is what a worker reports of itself every few seconds.
type Heartbeat struct {
	ID      string        // the worker's, unique
	Info    []byte        // its description, JSON, as Workers returns it
	Timeout time.Duration // after which, unreported, it counts as dead
	// Queues are the queues it serves, recorded as known (see Queues).
	Queues []string
	// Steps counts the attempts it finished since its last report, by
	// queue and by the start of the step of time they fell in (ms).
	Steps map[string]map[int64]StepCount
	// Keep is how long a step's counts are kept.
	Keep time.Duration
}

// Beat records h in one round trip: the worker as alive (and the workers
// that stopped reporting as gone), its queues as known, and its counts
// added to each queue's throughput, whose hash expires Keep after its last
// report.
func (b *Broker) Beat(ctx context.Context, h Heartbeat) error {
	// EVAL, not EVALSHA: resending the pipeline after a NOSCRIPT would
	// add the counts twice, and a heartbeat every few seconds can afford
	// the script's text.
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		heartbeatScript.Eval(ctx, p, []string{b.keys.Workers(), b.keys.WorkerInfo()},
			h.ID, h.Info, h.Timeout.Milliseconds())
		if len(h.Queues) > 0 {
			members := make([]any, len(h.Queues))
			for i, q := range h.Queues {
				members[i] = q
			}
			p.SAdd(ctx, b.keys.Queues(), members...)
		}
		for q, steps := range h.Steps {
			b.addSteps(ctx, p, q, steps, h.Keep)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("broker: heartbeat of worker %s: %w", h.ID, err)
	}
	return nil
}

// addSteps queues the addition of steps to queue's throughput hash.
func (b *Broker) addSteps(ctx context.Context, p redis.Pipeliner, queue string, steps map[int64]StepCount, keep time.Duration) {
	key := b.keys.Throughput(queue)
	for at, c := range steps {
		field := strconv.FormatInt(at, 10)
		if c.Processed > 0 {
			p.HIncrBy(ctx, key, field+":p", c.Processed)
		}
		if c.Failed > 0 {
			p.HIncrBy(ctx, key, field+":f", c.Failed)
		}
	}
	p.PExpire(ctx, key, keep)
}

// Leave removes worker id from the live workers at once, as it stops.
func (b *Broker) Leave(ctx context.Context, id string, timeout time.Duration) error {
	err := heartbeatScript.Run(ctx, b.rdb, []string{b.keys.Workers(), b.keys.WorkerInfo()}, id, "", timeout.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("broker: remove worker %s: %w", id, err)
	}
	return nil
}

// LiveWorker is a worker whose last heartbeat is within its timeout.
type LiveWorker struct {
	ID            string
	LastHeartbeat time.Time // Redis clock
	Info          []byte    // as the worker reported it
}

// Workers returns the workers that reported within timeout, by ID.
func (b *Broker) Workers(ctx context.Context, timeout time.Duration) ([]LiveWorker, error) {
	flat, err := workersScript.Run(ctx, b.rdb, []string{b.keys.Workers(), b.keys.WorkerInfo()}, timeout.Milliseconds()).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("broker: list workers: %w", err)
	}
	ws := make([]LiveWorker, 0, len(flat)/3)
	for i := 0; i+2 < len(flat); i += 3 {
		ms, err := strconv.ParseFloat(flat[i+1], 64)
		if err != nil {
			return nil, fmt.Errorf("broker: list workers: heartbeat %q: %w", flat[i+1], err)
		}
		ws = append(ws, LiveWorker{ID: flat[i], LastHeartbeat: time.UnixMilli(int64(ms)).UTC(), Info: []byte(flat[i+2])})
	}
	return ws, nil
}
