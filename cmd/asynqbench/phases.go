package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/hibiken/asynq"
)

// drainCase is one drain measurement.
type drainCase struct {
	concurrency int
	storeResult bool
}

func (d drainCase) name() string {
	h := "no-op"
	if d.storeResult {
		h = "result"
	}
	return fmt.Sprintf("drain %s c=%d", h, d.concurrency)
}

var drainCases = []drainCase{{10, false}, {50, false}, {100, false}, {10, true}, {50, true}, {100, true}}

// lifecycleDrain is the drain case whose cost, added to the single-producer
// enqueue, makes the lifecycle row: a stored result at concurrency 50, the
// case runq's throughput is compared on.
const lifecycleDrain = 4

// retention keeps the results of the storing handler (without it asynq
// deletes a finished task, result included).
const retention = time.Hour

// groups are the parts of a run that --only can choose, in the order they
// run. throughput includes drainsizes (config.runs).
var groups = []string{"throughput", "drainsizes", "latency", "steady", "memory"}

// all runs the chosen measurements in turn, deleting asynq's keys after each.
func (b *bench) all(ctx context.Context) (*report, error) {
	rep := &report{Machine: b.machine(ctx), Notes: b.notes()}
	if err := b.background(ctx, rep, "before"); err != nil {
		return nil, err
	}
	steps := map[string]func(context.Context, *report) error{
		"throughput": b.throughput, "drainsizes": b.drainSizes, "latency": b.latencies, "steady": b.steadies,
		"memory": b.memorySizes,
	}
	for _, g := range groups {
		if !b.cfg.runs(g) {
			continue
		}
		if err := steps[g](ctx, rep); err != nil {
			return nil, err
		}
	}
	return rep, b.background(ctx, rep, "after")
}

// throughput runs the enqueue and drain rows, and with them the lifecycle
// and the memory per queued 20-byte task.
func (b *bench) throughput(ctx context.Context, rep *report) error {
	rep.Enqueue, rep.Drain = make([]row, 2), make([]row, len(drainCases))
	for i, d := range drainCases {
		if err := b.drainCase(ctx, i, d, rep); err != nil {
			return err
		}
	}
	lc := lifecycle(rep.Enqueue[0], rep.Drain[lifecycleDrain])
	rep.Lifecycle = &lc
	return nil
}

// drainCase fills the queue for drain case i and drains it, and repeats both
// (up to --attempts times) while other clients of Redis or other processes
// disturbed a measurement, keeping the first undisturbed result of each.
func (b *bench) drainCase(ctx context.Context, i int, d drainCase, rep *report) error {
	for attempt := 1; ; attempt++ {
		if err := b.settle(ctx); err != nil {
			return err
		}
		if err := b.fill(ctx, i, d, rep); err != nil {
			return err
		}
		b.progress("%s (attempt %d)", d.name(), attempt)
		c, err := b.drain(ctx, d.concurrency, b.cfg.tasks, d.storeResult)
		if err != nil {
			return fmt.Errorf("%s: %w", d.name(), err)
		}
		if !rep.Drain[i].Foreign.Clean() || rep.Drain[i].Phase == "" {
			rep.Drain[i] = newRow(d.name(), b.cfg.tasks, c)
		}
		if err := b.cleanup(ctx); err != nil {
			return err
		}
		clean := rep.Drain[i].Foreign.Clean() && (i > 1 || rep.Enqueue[i].Foreign.Clean())
		if clean || attempt == b.cfg.attempts {
			return nil
		}
		b.progress("%s: disturbed by others (%s); measuring again", d.name(), c.foreign)
	}
}

// fill queues the tasks drain case i works on. The first fill is the
// measured single-producer enqueue (and the memory measurement, on an empty
// database), the second the measured 16-producer enqueue; later fills are
// not reported. A measured row replaces an earlier one only if that one was
// disturbed.
func (b *bench) fill(ctx context.Context, i int, d drainCase, rep *report) error {
	var opts []asynq.Option
	if d.storeResult {
		opts = append(opts, asynq.Retention(retention))
	}
	producers, name := 16, "enqueue 16 producers"
	if i == 0 {
		producers, name = 1, "enqueue 1 producer"
	}
	b.progress("%s (%d tasks, for %s)", name, b.cfg.tasks, d.name())
	c, ids, err := b.enqueue(ctx, producers, b.cfg.tasks, opts...)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if i > 1 || (rep.Enqueue[i].Phase != "" && rep.Enqueue[i].Foreign.Clean()) {
		return nil
	}
	rep.Enqueue[i] = newRow(name, b.cfg.tasks, c)
	if i == 0 {
		m, err := b.memory(ctx, c, b.cfg.tasks, ids)
		rep.Memory = &m
		return err
	}
	return nil
}

// latencies runs the two latency rows: asynq's defaults, then its fastest
// sensible polling interval.
func (b *bench) latencies(ctx context.Context, rep *report) error {
	c := b.cfg.latencyConcurrency
	rows := []struct {
		settings string
		cfg      asynq.Config
	}{
		{fmt.Sprintf("default (TaskCheckInterval 1s), Concurrency %d", c), asynq.Config{Concurrency: c}},
		{fmt.Sprintf("fast (TaskCheckInterval %s), Concurrency %d", b.cfg.fastCheckInterval, c),
			asynq.Config{Concurrency: c, TaskCheckInterval: b.cfg.fastCheckInterval}},
	}
	for _, r := range rows {
		row, err := b.latencyCase(ctx, r.settings, r.cfg)
		if err != nil {
			return err
		}
		rep.Latency = append(rep.Latency, row)
	}
	return nil
}

// latencyCase measures one latency row, again (up to --attempts times) while
// others disturbed it.
func (b *bench) latencyCase(ctx context.Context, settings string, cfg asynq.Config) (latencyRow, error) {
	var row latencyRow
	name := fmt.Sprintf("latency at %d tasks/s for %s: %s", b.cfg.rate, b.cfg.latencyDuration, settings)
	err := b.untilClean(ctx, name, func(ctx context.Context) (foreign, error) {
		var err error
		row, err = b.latency(ctx, settings, cfg)
		return row.Foreign, err
	})
	return row, err
}

// untilClean runs measure after a quiet moment (settle) and deletes asynq's
// keys after it, again (up to --attempts times) while others disturbed it;
// measure reports what it saw of others and keeps its result itself.
func (b *bench) untilClean(ctx context.Context, name string, measure func(context.Context) (foreign, error)) error {
	for attempt := 1; ; attempt++ {
		if err := b.settle(ctx); err != nil {
			return err
		}
		b.progress("%s (attempt %d)", name, attempt)
		f, err := measure(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := b.cleanup(ctx); err != nil {
			return err
		}
		if f.Clean() || attempt == b.cfg.attempts {
			return nil
		}
		b.progress("%s: disturbed by others (%s); measuring again", name, f)
	}
}

// settle waits until neither other processes nor other Redis clients have
// been busy for a second, so that a measurement starts on a quiet machine. It
// waits at most --settle in all over the run, then measures anyway (and the
// row shows what disturbed it).
func (b *bench) settle(ctx context.Context) error {
	for b.settleLeft > 0 {
		before, err := b.snapshot(ctx, nil)
		if err != nil {
			return err
		}
		if err := wait(ctx, time.Second); err != nil {
			return err
		}
		c, err := b.measured(ctx, before, nil, 0)
		if err != nil || c.foreign.Clean() {
			return err
		}
		b.settleLeft -= c.elapsed
		b.progress("waiting for a quiet machine (others: %s; %s left)", c.foreign, b.settleLeft.Round(time.Second))
	}
	return nil
}

// background measures the server's load from other clients over one idle
// second: INFO is server-wide, so this is the noise in every other number.
func (b *bench) background(ctx context.Context, rep *report, when string) error {
	before, err := b.snapshot(ctx, nil)
	if err != nil {
		return err
	}
	if err := wait(ctx, time.Second); err != nil {
		return err
	}
	after, err := b.snapshot(ctx, nil)
	if err != nil {
		return err
	}
	c := diff(before, after, 0)
	rep.Background = append(rep.Background, background{
		When:        when,
		CommandsSec: float64(c.calls) / c.elapsed.Seconds(),
		CPUPercent:  100 * c.redisCPU.Seconds() / c.elapsed.Seconds(),
	})
	return nil
}

// machine describes where the numbers come from.
func (b *bench) machine(ctx context.Context) machine {
	m := machine{NumCPU: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Go: runtime.Version(),
		Redis: fmt.Sprintf("%s db %d", b.opts.Addr, b.opts.DB), Tasks: b.cfg.tasks, PayloadBytes: payloadBytes}
	if info, err := b.mon.Info(ctx, "server").Result(); err == nil {
		for _, l := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "redis_version:"); ok {
				m.RedisVersion = v
			}
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path == "github.com/hibiken/asynq" {
				m.Asynq = dep.Version
			}
		}
	}
	return m
}

// progress writes one line to the progress stream.
func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.log, "asynqbench: "+format+"\n", args...)
}
