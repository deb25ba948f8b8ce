package outages

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/tasks"
)

// killWorkers is how many worker pools TestClientKill runs.
const killWorkers = 3

// TestClientKill runs three worker pools, each with its own Redis client,
// on a queue that a producer keeps at least a few hundred tasks deep, and
// runs CLIENT KILL TYPE normal every KillEvery for KillFor: every
// connection of every pool (and of the producer) is dropped again and
// again. Pass: in every interval between two kills, every worker claims
// tasks (a worker still connected but no longer claiming while work waits
// is the bug to catch); every acknowledged task ends succeeded.
func TestClientKill(t *testing.T) {
	size := setup(t)
	began := time.Now()
	rs := StartRedis(t)
	direct := openRedis(t, rs.URL(), 16)
	rec := &recorder{}
	for w := range killWorkers {
		reg := tasks.NewRegistry()
		rec.register(reg, w)
		if w == 0 {
			register(t, direct, reg)
		}
		runPool(t, tasks.NewPool(openRedis(t, rs.URL(), 0), reg, tasks.PoolConfig{
			Concurrency: 4, VisibilityTimeout: 5 * time.Second, Logger: testLogger(t, fmt.Sprintf("worker %d", w)),
		}))
	}

	prod := &producer{rdb: direct, depth: 300}
	ctx, stopProducing := context.WithCancel(context.Background())
	defer stopProducing()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); prod.run(ctx) }()

	kills := killRepeatedly(t, rs, size, direct)
	stopProducing()
	wg.Wait()
	ids := prod.acked()
	st := waitTerminal(t, direct, ids, 60*time.Second)
	iv := judgeIntervals(rec.snapshot(), kills)

	succeeded := countStatus(st, "succeeded")
	killed := 0
	for _, k := range kills {
		killed += k.killed
	}
	Summary(t, "client-kill", "size", size.Name, "workers", killWorkers, "every_s", size.KillEvery.Seconds(),
		"for_s", size.KillFor.Seconds(), "kills", len(kills)-1, "connections_killed", killed,
		"min_pending_at_kill", minPending(kills), "intervals", len(kills)-1, "claims_per_worker_interval_min", iv.minClaims,
		"idle_worker_intervals", len(iv.idle), "max_claim_gap_ms", ms(iv.maxGap),
		"tasks", len(ids), "succeeded", succeeded, "submit_errors", prod.errors(),
		"duration", time.Since(began).Round(100*time.Millisecond))

	if len(iv.idle) > 0 {
		t.Errorf("workers stopped claiming while work waited: %s", strings.Join(iv.idle, "; "))
	}
	if succeeded != len(ids) {
		t.Errorf("%d of %d acknowledged tasks succeeded; first others: %s", succeeded, len(ids), notSucceeded(st, 5))
	}
	if minPending(kills) == 0 {
		t.Errorf("the queue ran empty at a kill: the test did not keep work waiting")
	}
}

// kill is one CLIENT KILL: when, how many connections it dropped, and how
// many tasks were waiting then.
type kill struct {
	at      time.Time
	killed  int
	pending int64
}

// killRepeatedly runs CLIENT KILL TYPE normal every size.KillEvery for
// size.KillFor, from a connection of its own (CLIENT KILL skips the caller),
// and returns the kills, plus a last entry marking the end of the last
// interval.
func killRepeatedly(t *testing.T, rs *RedisServer, size Size, direct *redis.Client) []kill {
	t.Helper()
	rdb := rs.Client(t, 1)
	var kills []kill
	n := int(size.KillFor / size.KillEvery)
	for range n + 1 {
		time.Sleep(size.KillEvery)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		pending, _ := direct.LLen(ctx, redistest.Layout("").Pending(tasks.DefaultQueue)).Result()
		k := kill{at: time.Now(), pending: pending}
		if len(kills) < n {
			killed, err := rdb.Do(ctx, "CLIENT", "KILL", "TYPE", "normal").Int()
			if err != nil {
				t.Errorf("CLIENT KILL: %v", err)
			}
			k.killed = killed
		}
		cancel()
		kills = append(kills, k)
	}
	return kills
}

func minPending(kills []kill) int64 {
	m := int64(-1)
	for _, k := range kills {
		if m < 0 || k.pending < m {
			m = k.pending
		}
	}
	return m
}

// intervalVerdict is how each worker claimed between kills.
type intervalVerdict struct {
	minClaims int
	idle      []string      // "worker w claimed nothing in interval i"
	maxGap    time.Duration // longest time a worker went without a claim, from the first kill on
}

// judgeIntervals counts the executions each worker started between
// consecutive kills (kills[i].at to kills[i+1].at).
func judgeIntervals(execs []execution, kills []kill) intervalVerdict {
	v := intervalVerdict{minClaims: -1}
	for i := 0; i+1 < len(kills); i++ {
		from, to := kills[i].at, kills[i+1].at
		for w := range killWorkers {
			n := 0
			for _, e := range execs {
				if e.worker == w && !e.start.Before(from) && e.start.Before(to) {
					n++
				}
			}
			if v.minClaims < 0 || n < v.minClaims {
				v.minClaims = n
			}
			if n == 0 {
				v.idle = append(v.idle, fmt.Sprintf("worker %d claimed nothing from %s to %s after kill %d (%d tasks waiting)",
					w, from.Format("15:04:05.000"), to.Format("15:04:05.000"), i+1, kills[i].pending))
			}
		}
	}
	for w := range killWorkers {
		last := kills[0].at
		for _, e := range execs { // in start order, as recorded
			if e.worker == w && e.start.After(last) && e.start.Before(kills[len(kills)-1].at) {
				v.maxGap = max(v.maxGap, e.start.Sub(last))
				last = e.start
			}
		}
		v.maxGap = max(v.maxGap, kills[len(kills)-1].at.Sub(last))
	}
	return v
}

// producer keeps the default queue about depth tasks deep with 20ms
// "fault.work" tasks, checking every 20ms, until its context ends or it
// has queued 200,000.
type producer struct {
	rdb   *redis.Client
	depth int64

	mu   sync.Mutex
	ids  []uuid.UUID
	errs int
}

func (p *producer) run(ctx context.Context) {
	c := tasks.NewClient(p.rdb, tasks.ClientConfig{})
	defer c.Close()
	payload, _ := json.Marshal(workArgs{MS: 20})
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for p.count() < 200000 {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n, err := p.rdb.LLen(ctx, redistest.Layout("").Pending(tasks.DefaultQueue)).Result()
		if err != nil {
			p.fail()
			continue
		}
		for range p.depth - n {
			rec, err := c.Submit(ctx, tasks.Request{Name: "fault.work", Payload: payload})
			if err != nil {
				p.fail() // killed mid-call: not acknowledged, so not counted
				continue
			}
			p.mu.Lock()
			p.ids = append(p.ids, rec.ID)
			p.mu.Unlock()
		}
	}
}

func (p *producer) fail() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errs++
}

func (p *producer) errors() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errs
}

func (p *producer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ids)
}

func (p *producer) acked() []uuid.UUID {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]uuid.UUID(nil), p.ids...)
}
