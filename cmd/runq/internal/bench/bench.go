package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/tasks"
)

// Config says what to measure and where.
type Config struct {
	Client  *redis.Client // the Redis to measure; Run adds a counting hook
	Tasks   int           // tasks per throughput scenario; 0 means 100,000
	Rates   []int         // tasks/s of the latency scenarios; nil means 1,000 and 5,000
	RateFor time.Duration // how long each latency scenario runs; 0 means 5s
	Waiters int           // long polls parked at once by the waiters scenario; 0 means 10,000
	// SteadyRates are the arrival rates, in tasks/s, of the steady rows;
	// nil means 100, 1,000 and 5,000.
	SteadyRates []int
	SteadyFor   time.Duration // how long each steady row submits; 0 means 10s
	// SteadyBatchWait is the steady rows' worker's PoolConfig.BatchWait;
	// 0 means none (claim at once), runq's default.
	SteadyBatchWait time.Duration
	// DueTasks are the tasks of the delayed rows, held back with run_at
	// spread evenly over DueOver; 0 means 10,000 over 10s.
	DueTasks int
	DueOver  time.Duration
	// RedisURL is Client's Redis, for the child processes of the steady
	// rows (a worker, and `runq serve`); "" skips the steady rows.
	RedisURL string
	Embedded bool // the Redis is the embedded one: figures are labelled not representative
	// Only names the scenario groups to run (enqueue, drain, drainsizes,
	// priorities, latency, delayed, steady, memory, waiters, bounded); nil
	// means all. drainsizes, the drain rows at larger payloads, is part of
	// drain.
	Only []string
	// Prefix starts each scenario's private key prefix; "" means
	// "runqbench", and lets the memory rows use one as short as a user's
	// (newShortScope).
	Prefix   string
	Progress io.Writer // receives one line per finished row; nil means none
	// MaxOtherCPU is how much CPU, in % of one CPU, processes other than
	// this one and Redis (or the host, as steal time) may use during a
	// throughput or latency row before it counts as disturbed and is
	// measured again; 0 means 40. An idle machine is never at zero.
	MaxOtherCPU float64
	// Attempts bounds how often a disturbed row is measured; the least
	// disturbed attempt is reported. 0 means 3.
	Attempts int

	shortScopes bool // Prefix was "": see newShortScope
}

func (c Config) withDefaults() Config {
	if c.Tasks <= 0 {
		c.Tasks = 100_000
	}
	if len(c.Rates) == 0 {
		c.Rates = []int{1000, 5000}
	}
	if c.RateFor <= 0 {
		c.RateFor = 5 * time.Second
	}
	if c.Waiters <= 0 {
		c.Waiters = 10_000
	}
	if len(c.SteadyRates) == 0 {
		c.SteadyRates = []int{100, 1000, 5000}
	}
	if c.SteadyFor <= 0 {
		c.SteadyFor = 10 * time.Second
	}
	if c.DueTasks <= 0 {
		c.DueTasks = 10_000
	}
	if c.DueOver <= 0 {
		c.DueOver = 10 * time.Second
	}
	if c.Prefix == "" {
		c.Prefix, c.shortScopes = "runqbench", true
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.MaxOtherCPU <= 0 {
		c.MaxOtherCPU = 40
	}
	if c.Attempts <= 0 {
		c.Attempts = 3
	}
	return c
}

// Report is the result of a run.
type Report struct {
	Machine string `json:"machine"`
	Redis   string `json:"redis"`
	Note    string `json:"note,omitempty"`
	Rows    []Row  `json:"rows"`
}

// Row is one measured scenario. Per-task costs are zero where the server
// does not report them (miniredis has no INFO cpu or commandstats). In a
// waiters row a task is one long poll, the percentiles are the delays from
// a task's handler returning to its poll's answer arriving, and the costs
// are those of finishing the tasks and answering the polls. In a steady
// row the worker is a child process: WorkerCPUus is its CPU, RoundTrips
// this process's (the Go client's submissions; none in HTTP rows), and the
// percentiles are the delays from submission to handler start.
type Row struct {
	Scenario     string  `json:"scenario"`
	Tasks        int     `json:"tasks"`
	Seconds      float64 `json:"seconds"`
	TasksPerSec  float64 `json:"tasks_per_sec"`
	P50ms        float64 `json:"p50_ms,omitempty"`
	P95ms        float64 `json:"p95_ms,omitempty"`
	P99ms        float64 `json:"p99_ms,omitempty"`
	MaxMs        float64 `json:"max_ms,omitempty"`
	RoundTrips   float64 `json:"round_trips_per_task"`
	Commands     float64 `json:"redis_commands_per_task,omitempty"`
	RedisCPUus   float64 `json:"redis_cpu_us_per_task,omitempty"`
	WorkerCPUus  float64 `json:"process_cpu_us_per_task"`
	BytesPerTask float64 `json:"redis_bytes_per_task,omitempty"`       // used_memory growth beyond the payload
	UsedPerTask  float64 `json:"redis_used_memory_per_task,omitempty"` // used_memory growth less clients' buffers, payload included
	// ReadsPerTask is Redis's read events (INFO stats
	// total_reads_processed) per task: the requests that woke Redis, from
	// every process, i.e. round trips as Redis sees them.
	ReadsPerTask  float64     `json:"redis_reads_per_task,omitempty"`
	APICPUus      float64     `json:"api_cpu_us_per_task,omitempty"`    // steady HTTP rows: the `runq serve` child's
	ClientCPUus   float64     `json:"client_cpu_us_per_task,omitempty"` // steady rows: this process's, which submits
	PayloadBytes  int         `json:"payload_bytes,omitempty"`
	Concurrency   int         `json:"concurrency,omitempty"`
	TargetRate    int         `json:"target_rate,omitempty"`
	StoresResults bool        `json:"stores_result,omitempty"`
	Waiters       *WaiterCost `json:"waiters,omitempty"`
	Steady        *SteadyCost `json:"steady,omitempty"`
	Life          bool        `json:"life,omitempty"` // sums of an enqueue row and a drain row
	// OtherCPU is the CPU, in % of one CPU, that processes other than this
	// one and Redis (or the host, as steal time) used during the row, from
	// /proc/stat; -1 where it cannot be told (no /proc/stat, or miniredis,
	// which reports no CPU). A life row has the larger of its parts'.
	OtherCPU float64 `json:"other_cpu_percent"`
	Attempts int     `json:"attempts,omitempty"` // measurements made: more than 1 when one was disturbed
}

// runner holds one run's shared state.
type runner struct {
	cfg    Config
	rdb    *redis.Client
	rtt    *roundTrips
	quiet  *slog.Logger
	report *Report
}

// Run measures every scenario of cfg and returns the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	r := &runner{cfg: cfg, rdb: cfg.Client, rtt: &roundTrips{}, quiet: slog.New(slog.DiscardHandler)}
	r.rdb.AddHook(r.rtt)
	r.report = &Report{
		Machine: fmt.Sprintf("%d CPUs, %s/%s, %s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version()),
		Redis:   redisVersion(ctx, r.rdb),
	}
	if cfg.Embedded {
		r.report.Note = "embedded Redis (miniredis): slow Lua, no INFO cpu/commandstats; not representative of a real Redis"
	}
	groups := []struct {
		name string
		run  func(context.Context) error
	}{
		{"enqueue", r.enqueue},
		{"drain", r.drain},
		{"drainsizes", r.drainSizes},
		{"priorities", r.priorities},
		{"latency", r.latency},
		{"delayed", r.delayed},
		{"steady", r.steady},
		{"memory", r.memory},
		{"waiters", r.waiters},
		{"bounded", r.bounded},
	}
	for _, g := range groups {
		if !cfg.wants(g.name) {
			continue
		}
		if err := g.run(ctx); err != nil {
			return r.report, fmt.Errorf("bench %s: %w", g.name, err)
		}
	}
	r.addLives()
	return r.report, nil
}

// lifeDrain is the drain row that whole-life rows add to an enqueue row.
const lifeDrain = "drain, stores result, conc 50"

// addLives adds, when their parts were measured, one row per way of
// submitting with a task's whole life in Redis: its enqueue row plus the
// drain at concurrency 50 storing a result. Costs per task are sums; a
// life has no throughput of its own.
func (r *runner) addLives() {
	rows := make(map[string]Row, len(r.report.Rows))
	for _, row := range r.report.Rows {
		rows[row.Scenario] = row
	}
	drain, ok := rows[lifeDrain]
	if !ok {
		return
	}
	for _, enq := range []string{enqueue16Producers, enqueueBatches} {
		e, ok := rows[enq]
		if !ok {
			continue
		}
		r.add(Row{
			Scenario:      "life: " + strings.TrimPrefix(enq, "enqueue, ") + " + drain c50",
			Tasks:         drain.Tasks,
			RoundTrips:    e.RoundTrips + drain.RoundTrips,
			Commands:      e.Commands + drain.Commands,
			RedisCPUus:    e.RedisCPUus + drain.RedisCPUus,
			ReadsPerTask:  e.ReadsPerTask + drain.ReadsPerTask,
			WorkerCPUus:   e.WorkerCPUus + drain.WorkerCPUus,
			StoresResults: true,
			Life:          true,
			OtherCPU:      max(e.OtherCPU, drain.OtherCPU),
		})
	}
}

// wants reports whether group is to run: all are when Only is empty, and
// drainsizes is whenever drain is.
func (c Config) wants(group string) bool {
	return len(c.Only) == 0 || slices.Contains(c.Only, group) ||
		group == "drainsizes" && slices.Contains(c.Only, "drain")
}

func (r *runner) add(row Row) {
	r.report.Rows = append(r.report.Rows, row)
	fmt.Fprintln(r.cfg.Progress, formatRow(row))
}

// measure runs one row's measurement, and runs it again, up to
// cfg.Attempts times in all, while other processes used more than
// cfg.MaxOtherCPU of the machine during it: INFO cpu and the process's CPU
// are exact, but a busy neighbour slows Redis and the worker alike and
// inflates every per-task cost. It returns the least disturbed attempt,
// with Attempts set to the number made.
func (r *runner) measure(once func() (Row, error)) (Row, error) {
	var best Row
	attempts := 0
	for attempts < r.cfg.Attempts {
		row, err := once()
		if err != nil {
			return Row{}, err
		}
		attempts++
		if attempts == 1 || row.OtherCPU < best.OtherCPU {
			best = row
		}
		if row.OtherCPU <= r.cfg.MaxOtherCPU || attempts == r.cfg.Attempts {
			break
		}
		fmt.Fprintf(r.cfg.Progress, "(%s: other processes used %.0f%% of a CPU; measuring again)\n", row.Scenario, row.OtherCPU)
	}
	best.Attempts = attempts
	return best, nil
}

// fill completes row's per-task figures from c.
func fill(row *Row, c *cost) {
	n := float64(row.Tasks)
	row.Seconds = c.elapsed.Seconds()
	row.TasksPerSec = n / c.elapsed.Seconds()
	row.RoundTrips = float64(c.roundTrips) / n
	row.WorkerCPUus = float64(c.ownCPU.Microseconds()) / n
	row.OtherCPU = c.otherCPU
	if c.measured {
		row.Commands = float64(c.commands) / n
		row.RedisCPUus = float64(c.redisCPU.Microseconds()) / n
		row.ReadsPerTask = float64(c.reads) / n
	}
}

// scope is a key prefix private to one scenario, and its handlers.
type scope struct {
	prefix string
	client *tasks.Client
	reg    *tasks.Registry
}

func (r *runner) newScope(ctx context.Context, reg *tasks.Registry) (*scope, error) {
	var buf [4]byte
	_, _ = rand.Read(buf[:])
	return r.scopeAt(ctx, r.cfg.Prefix+"-"+hex.EncodeToString(buf[:]), reg)
}

// newShortScope is newScope with a prefix as long as the default one,
// "runq", for rows that measure what a task's keys cost: a task's key
// holds the prefix, and the bench's usual one would put it in a larger
// allocation than a user's (16 bytes more per task). Four characters are
// not unique enough to trust blindly, so the prefix is one that no key of
// the database has (cleanup deletes every key under it). A Config.Prefix
// given explicitly (tests sharing a Redis, each under its own) keeps every
// scope under it: newScope.
func (r *runner) newShortScope(ctx context.Context, reg *tasks.Registry) (*scope, error) {
	if !r.cfg.shortScopes {
		return r.newScope(ctx, reg)
	}
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	for range 10 {
		var buf [3]byte
		_, _ = rand.Read(buf[:])
		prefix := []byte{'q', 0, 0, 0}
		for i, b := range buf {
			prefix[i+1] = letters[int(b)%len(letters)]
		}
		used, err := prefixUsed(ctx, r.rdb, string(prefix))
		if err != nil {
			return nil, err
		}
		if !used {
			return r.scopeAt(ctx, string(prefix), reg)
		}
	}
	return nil, errors.New("no unused four-character key prefix found in 10 tries")
}

// prefixUsed reports whether some key of the database starts with
// prefix + ":".
func prefixUsed(ctx context.Context, rdb redis.UniversalClient, prefix string) (bool, error) {
	iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	if iter.Next(ctx) {
		return true, nil
	}
	return false, iter.Err()
}

// scopeAt makes a scope of prefix and registers its handlers.
func (r *runner) scopeAt(ctx context.Context, prefix string, reg *tasks.Registry) (*scope, error) {
	s := &scope{prefix: prefix, reg: reg}
	if err := s.pool(r, tasks.PoolConfig{}).Register(ctx); err != nil {
		return nil, err
	}
	s.client = tasks.NewClient(r.rdb, tasks.ClientConfig{ResultTTL: 10 * time.Minute, Prefix: s.prefix, Logger: r.quiet})
	return s, nil
}

// pool returns a worker pool of s's handlers on r's Redis.
func (s *scope) pool(r *runner, cfg tasks.PoolConfig) *tasks.Pool {
	cfg.Prefix, cfg.Logger = s.prefix, r.quiet
	return tasks.NewPool(r.rdb, s.reg, cfg)
}

// cleanup deletes every key of s.
func (r *runner) cleanup(ctx context.Context, s *scope) error {
	_ = s.client.Close()
	iter := r.rdb.Scan(ctx, 0, s.prefix+":*", 1000).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := r.rdb.Unlink(ctx, batch...).Err()
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 1000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	return flush()
}

func redisVersion(ctx context.Context, rdb redis.UniversalClient) string {
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return "redis " + v
		}
	}
	return "unknown"
}

// JSON renders the report.
func (rep *Report) JSON() ([]byte, error) { return json.MarshalIndent(rep, "", "  ") }
