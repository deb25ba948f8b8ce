package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
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
// payload. Its keys have a prefix as long as the default one (see
// newShortScope), so that a task's key costs what it costs a user.
// used_memory is the whole server's: another client that frees memory
// meanwhile (tests of other packages sharing the Redis) can make it
// shrink, which the bench's own writes never do. Such a row, or one during
// which other processes were busy, is measured again, up to cfg.Attempts
// times in all.
func (r *runner) memory(ctx context.Context) error {
	for _, size := range memorySizes {
		var row Row
		for attempt := 1; ; attempt++ {
			var err error
			row, err = r.memoryOnce(ctx, size.bytes, min(r.cfg.Tasks, size.maxTasks))
			if err != nil {
				return err
			}
			row.Attempts = attempt
			grew := row.UsedPerTask > 0
			if attempt == r.cfg.Attempts || (grew && row.OtherCPU <= r.cfg.MaxOtherCPU) {
				break
			}
			fmt.Fprintf(r.cfg.Progress, "(%s: used_memory grew %.0f B per task while others used %.0f%% of a CPU; measuring again)\n",
				row.Scenario, row.UsedPerTask, row.OtherCPU)
		}
		r.add(row)
	}
	return nil
}

func (r *runner) memoryOnce(ctx context.Context, size, n int) (Row, error) {
	s, err := r.newShortScope(ctx, noopRegistry())
	if err != nil {
		return Row{}, err
	}
	defer r.cleanup(context.WithoutCancel(ctx), s)
	payload := recordPayloads(size)
	if err := settled(ctx, r.rdb); err != nil {
		return Row{}, err
	}
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

// recordPayloads returns the payload of task i for rows whose tasks carry
// size bytes: one of 256 made by recordPayload, by i.
func recordPayloads(size int) func(i int) json.RawMessage {
	rnd := rand.New(rand.NewPCG(uint64(size), 2))
	all := make([]json.RawMessage, 256)
	for k := range all {
		all[k] = recordPayload(rnd, size)
	}
	return func(i int) json.RawMessage { return all[i%len(all)] }
}

// recordPayload is a JSON object of exactly size bytes (at least 19), as
// task payloads often are: {"items":[records...],"p":"letters"}, records
// such as {"id":123456,"sku":"SKU-01234","qty":3,"price":12.34} while they
// fit, then pseudo-random letters to the size. cmd/asynqbench builds
// asynq's payloads the same way, so that both store the same bytes. (runq
// stores large payloads compressed; letters alone, with no repeats to
// find, would be stored as they came.)
func recordPayload(rnd *rand.Rand, size int) json.RawMessage {
	const head, mid, tail = `{"items":[`, `],"p":"`, `"}`
	b := append(make([]byte, 0, size), head...)
	for {
		rec := fmt.Appendf(nil, `{"id":%d,"sku":"SKU-%05d","qty":%d,"price":%d.%02d}`,
			rnd.IntN(1_000_000), rnd.IntN(100_000), rnd.IntN(10), rnd.IntN(500), rnd.IntN(100))
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
		b = append(b, byte('a'+rnd.IntN(26)))
	}
	return append(b, tail...)
}

// settled waits, up to five seconds, until Redis's own bookkeeping stops
// changing: MEMORY STATS overhead.total the same over three readings 100
// ms apart, and nothing left to free in the background
// (lazyfree_pending_objects). The rows before a memory row delete their
// keys, and Redis shrinks the emptied key tables (the keys and the
// expiring ones: up to 512 KB each for 50,000 tasks) on its next cron
// ticks; when that fell inside the row, the 64 B row read 201-230 B per
// task where it reads about 250 alone.
func settled(ctx context.Context, rdb redis.UniversalClient) error {
	deadline := time.Now().Add(5 * time.Second)
	last, same := int64(-1), 0
	for same < 3 && time.Now().Before(deadline) {
		overhead, pending, ok := redisOverhead(ctx, rdb)
		if !ok {
			return nil // miniredis: no MEMORY STATS
		}
		if overhead == last && pending == 0 {
			same++
		} else {
			last, same = overhead, 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// redisOverhead returns MEMORY STATS overhead.total and INFO's
// lazyfree_pending_objects; false when the server has neither.
func redisOverhead(ctx context.Context, rdb redis.UniversalClient) (overhead, pending int64, ok bool) {
	if overhead, ok = memoryStat(ctx, rdb, "overhead.total"); !ok {
		return 0, 0, false
	}
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(info, "\n") {
		if v, found := strings.CutPrefix(strings.TrimSpace(line), "lazyfree_pending_objects:"); found {
			pending, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return overhead, pending, true
}
