package broker

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// NameLimit is what the tasks of one name may do in one queue, across
// every worker: how many run at once, and how often one starts. The
// scripts that start and end attempts enforce it (lua/gate.lua). A zero
// field is unset.
type NameLimit struct {
	MaxRunning int           // tasks of the name running at once; 0 means no cap
	Rate       int           // starts per Per; 0 means no rate
	Per        time.Duration // the period of Rate, whole milliseconds
}

// spec renders l as the limits hash holds it: "max_running,rate_count,
// rate_period_ms"; "" for no limit.
func (l NameLimit) spec() string {
	if l.MaxRunning <= 0 && (l.Rate <= 0 || l.Per <= 0) {
		return ""
	}
	rate, per := 0, int64(0)
	if l.Rate > 0 && l.Per > 0 {
		rate, per = l.Rate, l.Per.Milliseconds()
	}
	return strconv.Itoa(max(l.MaxRunning, 0)) + "," + strconv.Itoa(rate) + "," + strconv.FormatInt(per, 10)
}

// parseLimit reads a limits hash value; ok is false when it does not
// parse (written by hand), and the scripts then ignore it too.
func parseLimit(s string) (l NameLimit, ok bool) {
	f := strings.Split(s, ",")
	if len(f) != 3 {
		return NameLimit{}, false
	}
	var n [3]int64
	for i, v := range f {
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil || x < 0 || strings.HasPrefix(v, "+") {
			return NameLimit{}, false
		}
		n[i] = x
	}
	l = NameLimit{MaxRunning: int(n[0]), Rate: int(n[1]), Per: time.Duration(n[2]) * time.Millisecond}
	if l.Rate == 0 || l.Per == 0 {
		l.Rate, l.Per = 0, 0
	}
	return l, true
}

// SetLimits writes the limits of task names in queue, as a worker does for
// its handlers when it starts; a zero NameLimit removes a name's. A name
// whose cap rose or went gets back as many of its held tasks as now have a
// slot. Names not in limits keep theirs: several workers may serve one
// queue, each with its own handlers.
func (b *Broker) SetLimits(ctx context.Context, queue string, limits map[string]NameLimit) error {
	if err := ValidQueue(queue); err != nil {
		return err
	}
	if len(limits) == 0 {
		return nil
	}
	names := make([]string, 0, len(limits))
	for name := range limits {
		names = append(names, name)
	}
	sort.Strings(names)
	args := make([]any, 0, 2*len(names))
	for _, name := range names {
		args = append(args, name, limits[name].spec())
	}
	keys := []string{b.keys.Limits(queue), b.keys.Running(queue), b.keys.Held(queue), b.keys.Pending(queue),
		b.keys.Rate(queue), b.keys.Settings(queue)}
	if err := setLimitsScript.Run(ctx, b.rdb, keys, args...).Err(); err != nil {
		return fmt.Errorf("broker: set the limits of %d names in %s: %w", len(names), queue, err)
	}
	return nil
}

// NameState is a task name with limits in a queue: its limits, its tasks
// that hold a slot of its cap, and those held waiting for one.
type NameState struct {
	Name string
	NameLimit
	Running int64
	Held    int64
}

// names reads the limits of queue's names, with their counts, as the
// queue's counts show them: the limits and counts from lim and run (the
// HGETALLs of the limits and running hashes), and the held tasks of each
// capped name in one more round trip (none when no name is capped).
func (b *Broker) names(ctx context.Context, queue string, lim, run map[string]string) ([]NameState, error) {
	if len(lim) == 0 {
		return nil, nil
	}
	out := make([]NameState, 0, len(lim))
	for name, spec := range lim {
		l, ok := parseLimit(spec)
		if !ok {
			continue
		}
		running, _ := strconv.ParseInt(run[name], 10, 64)
		out = append(out, NameState{Name: name, NameLimit: l, Running: running})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	held := make([]*redis.IntCmd, len(out))
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range out {
			if n.MaxRunning > 0 {
				held[i] = p.ZLexCount(ctx, b.keys.Held(queue), "["+n.Name+" ", "("+n.Name+"!")
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, c := range held {
		if c != nil {
			out[i].Held = c.Val()
		}
	}
	return out, nil
}
