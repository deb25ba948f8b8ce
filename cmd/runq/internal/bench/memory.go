package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
)

// memorySizes are the payload sizes of the memory rows, and how many tasks
// each queues at most (fewer of the largest: 5,000 of 16 KiB is 80 MB).
var memorySizes = []struct{ bytes, maxTasks int }{
	{64, 20_000},
	{1024, 20_000},
	{16384, 5_000},
}

// memory queues tasks of each payload size, none of which a worker runs,
// and reports Redis's used_memory growth per task, with and without the
// payload.
func (r *runner) memory(ctx context.Context) error {
	for _, size := range memorySizes {
		row, err := r.memoryOnce(ctx, size.bytes, min(r.cfg.Tasks, size.maxTasks))
		if err != nil {
			return err
		}
		r.add(row)
	}
	return nil
}

func (r *runner) memoryOnce(ctx context.Context, size, n int) (Row, error) {
	s, err := r.newScope(ctx, noopRegistry())
	if err != nil {
		return Row{}, err
	}
	defer r.cleanup(context.WithoutCancel(ctx), s)
	payload := paddedPayloads(size)
	before := sampleServer(ctx, r.rdb)
	c := startCost(ctx, r.rdb, r.rtt)
	if err := submitEach(ctx, s.client, "bench.noop", n, 16, payload); err != nil {
		return Row{}, err
	}
	c.stop(ctx)
	after := sampleServer(ctx, r.rdb)
	row := Row{Scenario: fmt.Sprintf("memory, queued, %d B payload", size), Tasks: n, PayloadBytes: size}
	fill(&row, c)
	if before.ok && after.ok {
		row.UsedPerTask = float64(after.memory-before.memory) / float64(n)
		row.BytesPerTask = row.UsedPerTask - float64(size)
	}
	return row, nil
}

// randomLetters returns n pseudo-random lowercase letters: payloads cut
// from them neither repeat nor compress well, as real ones would not.
func randomLetters(n int) []byte {
	rnd := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rnd.IntN(26))
	}
	return b
}

// paddedPayloads returns the payload of task i for rows whose tasks carry
// size bytes: paddedPayload cut at one of 4,096 offsets, by i.
func paddedPayloads(size int) func(i int) json.RawMessage {
	letters := randomLetters(size + 4096)
	return func(i int) json.RawMessage { return paddedPayload(letters, i%4096, size) }
}

// paddedPayload is the JSON object {"p":"..."} of exactly size bytes (at
// least 8), its string cut from letters at offset off.
func paddedPayload(letters []byte, off, size int) json.RawMessage {
	const head, tail = `{"p":"`, `"}`
	p := make([]byte, 0, size)
	p = append(p, head...)
	p = append(p, letters[off:off+size-len(head)-len(tail)]...)
	return append(p, tail...)
}
