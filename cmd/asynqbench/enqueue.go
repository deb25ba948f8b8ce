package main

import (
	"context"
	"fmt"

	"github.com/hibiken/asynq"
)

const (
	taskType      = "bench"
	queueName     = "default"              // asynq's default queue
	payload       = "payload-0123456789ab" // 20 bytes, the small payload of every task
	payloadBytes  = len(payload)
	memorySamples = 100 // tasks whose keys MEMORY USAGE reads, as a cross-check
)

var payloadData = []byte(payload)

// enqueue queues n tasks from the given number of producer goroutines
// sharing one asynq.Client (as an application would), and returns the cost
// and the IDs of the first tasks producer 0 queued.
func (b *bench) enqueue(ctx context.Context, producers, n int, opts ...asynq.Option) (cost, []string, error) {
	tc := &tripCounter{}
	rc := b.newClient(tc)
	defer rc.Close()
	client := asynq.NewClientFromRedisClient(rc)
	before, err := b.snapshot(ctx, tc)
	if err != nil {
		return cost{}, nil, err
	}
	var ids []string // written by producer 0 only
	err = parallel(producers, func(p int) error {
		share := n / producers
		if p < n%producers {
			share++
		}
		for i := range share {
			info, err := client.EnqueueContext(ctx, asynq.NewTask(taskType, payloadData), opts...)
			if err != nil {
				return fmt.Errorf("enqueue: %w", err)
			}
			if p == 0 && i < memorySamples {
				ids = append(ids, info.ID)
			}
		}
		return nil
	})
	if err != nil {
		return cost{}, nil, err
	}
	c, err := b.measured(ctx, before, tc, 0)
	return c, ids, err
}

// memoryRow is Redis memory per queued task.
type memoryRow struct {
	Tasks              int     `json:"tasks"`
	UsedMemoryDelta    int64   `json:"used_memory_delta_bytes"`
	PerTask            float64 `json:"used_memory_per_task_bytes"`
	PayloadBytes       int     `json:"payload_bytes"`
	BeyondPayload      float64 `json:"beyond_payload_bytes"`
	SampledPerTask     float64 `json:"memory_usage_sample_per_task_bytes"`
	SampledTaskKeys    int     `json:"memory_usage_sampled_task_keys"`
	SampledListPerTask float64 `json:"memory_usage_pending_list_per_task_bytes"`
}

// memory computes Redis memory per queued task from the used_memory delta
// over n queued tasks, and cross-checks it with MEMORY USAGE of sampled task
// hashes plus the pending list's share.
func (b *bench) memory(ctx context.Context, c cost, n int, ids []string) (memoryRow, error) {
	m := memoryRow{Tasks: n, UsedMemoryDelta: c.memory, PayloadBytes: payloadBytes}
	m.PerTask = float64(c.memory) / float64(n)
	m.BeyondPayload = m.PerTask - float64(payloadBytes)
	var sum int64
	for _, id := range ids {
		// asynq's task key, base.TaskKey: asynq:{<queue>}:t:<id>.
		u, err := b.mon.MemoryUsage(ctx, "asynq:{"+queueName+"}:t:"+id, 0).Result()
		if err != nil {
			return m, fmt.Errorf("memory usage of task %s: %w", id, err)
		}
		sum += u
	}
	list, err := b.mon.MemoryUsage(ctx, "asynq:{"+queueName+"}:pending", 0).Result()
	if err != nil {
		return m, fmt.Errorf("memory usage of the pending list: %w", err)
	}
	if len(ids) > 0 {
		m.SampledTaskKeys = len(ids)
		m.SampledListPerTask = float64(list) / float64(n)
		m.SampledPerTask = float64(sum)/float64(len(ids)) + m.SampledListPerTask
	}
	return m, nil
}
