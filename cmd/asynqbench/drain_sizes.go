package main

import (
	"context"
	"fmt"

	"github.com/hibiken/asynq"
)

// drainPayloadSizes are the payload sizes of the drainsizes rows: the drain
// runq's throughput is compared on (concurrency 50, storing a result) with
// payloads as large as real task arguments, not only the 20-byte one.
var drainPayloadSizes = []int{64, 1024}

// drainSizesConcurrency is the server concurrency of the drainsizes rows,
// that of lifecycleDrain.
const drainSizesConcurrency = 50

// distinctPayloads bounds the payloads generated for one drainsizes row;
// tasks reuse them in turn (asynq stores a payload as it is given, so reuse
// changes nothing it does) and a 1 KiB row holds 4 MB, not --tasks KiB.
const distinctPayloads = 4096

// drainSizes measures a drainsizes row at each payload size.
func (b *bench) drainSizes(ctx context.Context, rep *report) error {
	for _, size := range drainPayloadSizes {
		name := fmt.Sprintf("drain result c=%d %dB", drainSizesConcurrency, size)
		var r row
		err := b.untilClean(ctx, name, func(ctx context.Context) (foreign, error) {
			c, err := b.drainSized(ctx, size)
			r = newRow(name, b.cfg.tasks, c)
			return c.foreign, err
		})
		if err != nil {
			return err
		}
		rep.DrainSizes = append(rep.DrainSizes, r)
	}
	return nil
}

// drainSized queues --tasks tasks with size-byte payloads (memory rows'
// jsonPayloads) and asynq.Retention(retention) from memoryProducers
// goroutines, unmeasured, then measures their drain by a server storing a
// result at drainSizesConcurrency.
func (b *bench) drainSized(ctx context.Context, size int) (cost, error) {
	n := b.cfg.tasks
	b.progress("enqueue %d tasks of %d B (for the drain)", n, size)
	rc := b.newClient(nil)
	err := enqueuePayloads(ctx, asynq.NewClientFromRedisClient(rc), memoryProducers, n,
		jsonPayloads(size, min(n, distinctPayloads)), asynq.Retention(retention))
	rc.Close()
	if err != nil {
		return cost{}, err
	}
	return b.drain(ctx, drainSizesConcurrency, n, true)
}

// enqueuePayloads queues n tasks from producers goroutines sharing client,
// task k with payloads[k%len(payloads)].
func enqueuePayloads(ctx context.Context, client *asynq.Client, producers, n int, payloads [][]byte, opts ...asynq.Option) error {
	return parallel(producers, func(p int) error {
		for k := p; k < n; k += producers {
			if _, err := client.EnqueueContext(ctx, asynq.NewTask(taskType, payloads[k%len(payloads)]), opts...); err != nil {
				return fmt.Errorf("enqueue: %w", err)
			}
		}
		return nil
	})
}
