package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
)

// payloadSizes are the payload sizes of the memory rows, each with the most
// tasks queued at it (fewer with a smaller --tasks).
var payloadSizes = []struct{ bytes, maxTasks int }{{64, 20000}, {1024, 20000}, {16384, 5000}}

// memoryProducers queue the tasks of a memory row, as for the 16-producer
// enqueue row.
const memoryProducers = 16

// sizeRow is Redis memory per queued task at one payload size.
type sizeRow struct {
	Phase           string  `json:"phase"`
	PayloadBytes    int     `json:"payload_bytes"`
	Tasks           int     `json:"tasks"`
	UsedMemoryDelta int64   `json:"used_memory_delta_bytes"`
	PerTask         float64 `json:"used_memory_per_task_bytes"`
	BeyondPayload   float64 `json:"beyond_payload_bytes"`
	Foreign         foreign `json:"foreign_traffic"`
}

// memorySizes measures a memory row at each payload size.
func (b *bench) memorySizes(ctx context.Context, rep *report) error {
	for _, ps := range payloadSizes {
		n := min(b.cfg.tasks, ps.maxTasks)
		name := fmt.Sprintf("memory, payload %d B", ps.bytes)
		var row sizeRow
		err := b.untilClean(ctx, name, func(ctx context.Context) (foreign, error) {
			var err error
			row, err = b.memoryAt(ctx, ps.bytes, n)
			row.Phase = name
			return row.Foreign, err
		})
		if err != nil {
			return err
		}
		rep.MemorySizes = append(rep.MemorySizes, row)
	}
	return nil
}

// memoryAt queues n tasks with size-byte payloads from memoryProducers
// goroutines, no server running, and reads used_memory from before the
// producers' client connects until after it has disconnected, so that
// connection buffers stay out of the figure.
func (b *bench) memoryAt(ctx context.Context, size, n int) (sizeRow, error) {
	payloads := jsonPayloads(size, n)
	tc := &tripCounter{}
	before, err := b.snapshot(ctx, tc)
	if err != nil {
		return sizeRow{}, err
	}
	rc := b.newClient(tc)
	client := asynq.NewClientFromRedisClient(rc)
	err = enqueuePayloads(ctx, client, memoryProducers, n, payloads)
	rc.Close()
	if err != nil {
		return sizeRow{}, err
	}
	// Redis frees a closed connection, buffers included, once it reads the EOF.
	if err := wait(ctx, 200*time.Millisecond); err != nil {
		return sizeRow{}, err
	}
	c, err := b.measured(ctx, before, tc, 0)
	per := float64(c.memory) / float64(n)
	return sizeRow{PayloadBytes: size, Tasks: n, UsedMemoryDelta: c.memory, PerTask: per,
		BeyondPayload: per - float64(size), Foreign: c.foreign}, err
}

// jsonPayloads returns n payloads of exactly size bytes (at least 19), made
// by recordPayload from a fixed seed, so that runs are alike.
func jsonPayloads(size, n int) [][]byte {
	r := rand.New(rand.NewPCG(uint64(size), 2))
	out := make([][]byte, n)
	for k := range out {
		out[k] = recordPayload(r, size)
	}
	return out
}

// recordPayload is a JSON object of exactly size bytes (at least 19), built
// as runq bench builds its payloads, so that both tools store the same
// kind of bytes: {"items":[records...],"p":"letters"}, records such as
// {"id":123456,"sku":"SKU-01234","qty":3,"price":12.34} while they fit,
// then pseudo-random letters to the size.
func recordPayload(r *rand.Rand, size int) []byte {
	const head, mid, tail = `{"items":[`, `],"p":"`, `"}`
	b := append(make([]byte, 0, size), head...)
	for {
		rec := fmt.Appendf(nil, `{"id":%d,"sku":"SKU-%05d","qty":%d,"price":%d.%02d}`,
			r.IntN(1_000_000), r.IntN(100_000), r.IntN(10), r.IntN(500), r.IntN(100))
		if len(b)+1+len(rec)+len(mid)+len(tail) > size {
			break
		}
		if len(b) > len(head) {
			b = append(b, ',')
		}
		b = append(b, rec...)
	}
	b = append(b, mid...)
	for len(b) < size-len(tail) {
		b = append(b, byte('a'+r.IntN(26)))
	}
	return append(b, tail...)
}
