// Command scriptcost drives runq's queue scripts with fixed batch sizes
// against a Redis, so that a profiler watching that Redis counts what each
// task costs it. Wall-clock figures on a shared machine move by 10-30%
// from one run to the next; an instruction count under callgrind moves by
// less than 0.1%, so a change to a script is measured, not guessed:
//
//	go build -o /tmp/scriptcost ./cmd/runq/internal/scriptcost
//	valgrind --tool=callgrind --toggle-collect=evalShaCommand \
//	    --toggle-collect=evalCommand --callgrind-out-file=cg.out \
//	    redis-server --port 16600 --save "" --appendonly no &
//	until redis-cli -p 16600 ping; do sleep 0.2; done
//	/tmp/scriptcost --redis redis://127.0.0.1:16600/0 --phase esf
//	redis-cli -p 16600 shutdown nosave; wait; grep ^totals: cg.out
//
// --enqueue-batch sets the tasks per enqueue call (a batch of one goes as
// a single submission does); --max-length bounds the queue, to measure
// what the check of a bounded queue costs.
//
// The totals over --tasks give instructions per task inside the scripts
// (plus a few thousand in all for Open's check and the first, compiling
// call of each script). Run --phase e, es and esf, each on a fresh Redis,
// and subtract to split them: e enqueues (--enqueue-batch at a time, 1,000
// unless told; held back by --delay when given), es also takes and starts
// (--batch at a time, as a worker of that concurrency does), esf also
// finishes each batch with a stored result. --gate prices the
// limits of lua/gate.lua, set so high that none holds a task back: limits
// (the queue has limits, of another name), cap (the queue has a
// max_running) and name-cap (the tasks' name has a max_running). A rate
// spreads the starts of a batch over time, so it has no such setting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "scriptcost:", err)
		os.Exit(1)
	}
}

// cleanup deletes every key under prefix, and says so when it cannot.
func cleanup(rdb *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	for iter.Next(ctx) {
		if err := rdb.Unlink(ctx, iter.Val()).Err(); err != nil {
			fmt.Fprintln(os.Stderr, "scriptcost: cleanup:", err)
			return
		}
	}
	if err := iter.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "scriptcost: cleanup:", err)
	}
}

// gates are the limits --gate sets, none of which holds a task back.
var gates = map[string]struct {
	queue int // max_running of the queue
	names map[string]broker.NameLimit
}{
	"":         {},
	"limits":   {names: map[string]broker.NameLimit{"other": {MaxRunning: 1}}},
	"cap":      {queue: broker.MaxMaxRunning},
	"name-cap": {names: map[string]broker.NameLimit{"bench.result": {MaxRunning: broker.MaxMaxRunning}}},
}

func run() error {
	url := flag.String("redis", "", "Redis URL (required); keys go under the prefix scriptcost and are deleted")
	n := flag.Int("tasks", 2000, "tasks")
	batch := flag.Int("batch", 20, "tasks taken, started and finished per call (1 to 1000)")
	phase := flag.String("phase", "esf", "e: enqueue; es: and take and start; esf: and finish")
	perCall := flag.Int("enqueue-batch", 1000, "tasks enqueued per call (1 to 1000)")
	delay := flag.Duration("delay", 0, "hold every task back this long: scheduled, not queued (phase e only)")
	gate := flag.String("gate", "", "limits, cap or name-cap: limits that hold nothing back, to price them")
	maxLength := flag.Int("max-length", 0, "the queue's max_length (0: unbounded); set it at least --tasks to measure the check alone")
	flag.Parse()
	limits, gateOK := gates[*gate]
	if *url == "" || *n < 1 || *batch < 1 || *batch > 1000 || *perCall < 1 || *perCall > 1000 || *maxLength < 0 ||
		(*phase != "e" && *phase != "es" && *phase != "esf") || *delay < 0 || (*delay > 0 && *phase != "e") || !gateOK {
		flag.Usage()
		return errors.New("bad flags")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rdb, err := broker.Open(ctx, *url, 0)
	if err != nil {
		return err
	}
	defer rdb.Close()
	const prefix = "scriptcost"
	b := broker.New(rdb, prefix)
	defer cleanup(rdb, prefix) // outside the scripts, so not counted
	if limits.queue > 0 {
		if _, err := b.UpdateSettings(ctx, "default", broker.SettingsUpdate{MaxRunning: &limits.queue}); err != nil {
			return err
		}
	}
	if limits.names != nil {
		if err := b.SetLimits(ctx, "default", limits.names); err != nil {
			return err
		}
	}
	payload := []byte(`{"user":12345,"op":"x"}`)
	if *maxLength > 0 {
		if _, err := b.UpdateSettings(ctx, "default", broker.SettingsUpdate{MaxLength: maxLength}); err != nil {
			return err
		}
	}
	for left := *n; left > 0; {
		ts := make([]broker.NewTask, min(left, *perCall))
		for i := range ts {
			ts[i] = broker.NewTask{Name: "bench.result", Queue: "default", Payload: payload,
				Timeout: 30 * time.Second, ResultTTL: 10 * time.Minute, Delay: *delay}
		}
		if _, err := b.Enqueue(ctx, ts); err != nil {
			return err
		}
		left -= len(ts)
	}
	if *phase == "e" {
		return nil
	}
	for done := 0; done < *n; {
		_, t, err := b.Take(ctx, "default", *batch, time.Minute, "")
		if err != nil {
			return err
		}
		if t == nil {
			return fmt.Errorf("no task taken after %d of %d", done, *n)
		}
		claimed, _, err := b.StartTake(ctx, t, 0, time.Minute)
		if err != nil {
			return err
		}
		if len(claimed) == 0 {
			return fmt.Errorf("no task started after %d of %d", done, *n)
		}
		done += len(claimed)
		if *phase == "es" {
			continue
		}
		fs := make([]broker.Finish, len(claimed))
		for i := range claimed {
			fs[i] = broker.Finish{Claimed: &claimed[i], Outcome: broker.Succeeded, Result: []byte(`{"attempt":1,"ok":true}`)}
		}
		res, err := b.Finish(ctx, fs)
		if err != nil {
			return err
		}
		for _, r := range res {
			if r != nil {
				return r
			}
		}
	}
	return nil
}
