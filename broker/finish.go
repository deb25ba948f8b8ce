package broker

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/runq/runq/broker/internal/layout"
	"github.com/runq/runq/results"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Outcome is how an attempt ended, as finish.lua takes it.
type Outcome string

// Outcomes of an attempt.
const (
	// Succeeded stores the result; the task is terminal.
	Succeeded Outcome = "succeeded"
	// Failed stores the error; the task is terminal.
	Failed Outcome = "failed"
	// Retry stores the error and schedules another attempt after a delay.
	Retry Outcome = "retry"
	// Release hands an unfinished attempt back to the head of the queue at
	// once, as a worker shutting down does.
	Release Outcome = "release"
)

// Finish is the end of one attempt.
type Finish struct {
	Claimed *Claimed
	Outcome Outcome
	Result  []byte        // JSON, for Succeeded
	Error   string        // for Failed and Retry
	RetryIn time.Duration // for Retry
}

// Finish records the outcomes of attempts, each if, and only if, its
// attempt still holds its lease: errs[i] is nil, or ErrLeaseLost for a
// late attempt whose lease expired (nothing is written for it), so a
// task's outcome is recorded once. The outcomes of one queue go in one
// script call, all in one round trip (and one more call for any second
// outcome for a task). err reports a failed call: nothing, or everything,
// may have been applied, and a resend is harmless, since finish.lua is
// idempotent by token (a resent outcome already applied is nil).
func (b *Broker) Finish(ctx context.Context, fs []Finish) (errs []error, err error) {
	groups := finishGroups(fs)
	cmds := make([]*redis.Cmd, len(groups))
	err = b.scriptPipeline(ctx, func(pipe redis.Pipeliner) error {
		for g, idx := range groups {
			keys, args := b.finishCall(fs, idx)
			cmds[g] = finishScript.EvalSha(ctx, pipe, keys, args...)
		}
		return nil
	}, finishScript)
	if err != nil {
		return nil, fmt.Errorf("broker: finish %d attempts: %w", len(fs), err)
	}
	out := make([]error, len(fs))
	for g, idx := range groups {
		codes, err := finishCodes(cmds[g], len(idx))
		if err != nil {
			return nil, fmt.Errorf("broker: finish %d attempts: %w", len(fs), err)
		}
		for j, i := range idx {
			if codes != nil && codes[j] == 0 {
				out[i] = ErrLeaseLost
			}
		}
	}
	return out, nil
}

// finishGroups groups the indexes of fs by queue, as byQueue does, and
// moves a second outcome for one task into a later group: finish.lua takes
// a task at most once per call (a check per attempt in Lua would cost
// every task), and the later call, sent after it in the same pipeline,
// finds that attempt finished, as a resent call would.
func finishGroups(fs []Finish) [][]int {
	groups := byQueue(fs, finishGroupKey)
	for g := 0; g < len(groups); g++ { // groups grows while this runs
		idx := groups[g]
		if len(idx) < 2 {
			continue
		}
		seen := make(map[uuid.UUID]struct{}, len(idx))
		var first, again []int
		for n, i := range idx {
			id := fs[i].Claimed.ID
			if _, dup := seen[id]; !dup {
				seen[id] = struct{}{}
				if again != nil {
					first = append(first, i)
				}
				continue
			}
			if again == nil {
				first = append(make([]int, 0, len(idx)), idx[:n]...)
			}
			again = append(again, i)
		}
		if again != nil {
			groups[g] = first
			groups = append(groups, again)
		}
	}
	return groups
}

// finishCodes reads finish.lua's reply to a call of n attempts: nil when
// all were applied (its reply is then n), else one code per attempt.
func finishCodes(cmd *redis.Cmd, n int) ([]int64, error) {
	v, err := cmd.Result()
	if err != nil {
		return nil, err
	}
	if all, ok := v.(int64); ok {
		if all != int64(n) {
			return nil, fmt.Errorf("finish.lua replied %d applied for %d attempts", all, n)
		}
		return nil, nil
	}
	codes, err := cmd.Int64Slice()
	if err == nil && len(codes) != n {
		err = fmt.Errorf("finish.lua replied %d codes for %d attempts", len(codes), n)
	}
	return codes, err
}

// finishCall builds finish.lua's keys and arguments for the attempts
// fs[idx], which share one queue: each distinct lease token once, with its
// set, then the attempts, each naming its outcome and token in one op.
func (b *Broker) finishCall(fs []Finish, idx []int) (keys []string, args []any) {
	q := fs[idx[0]].Claimed.Queue
	tokenAt := make(map[string]int, 4)
	var tokens []any
	slots := false // some attempt holds a max_running slot: the gate's keys go too
	hooks := false // some attempt ends a task with a callback URL: the hooks zset goes too
	// some attempt retries or is released: the canceled zset goes too
	requeues := false
	for _, i := range idx {
		c := fs[i].Claimed
		slots = slots || c.capped || c.slot
		hooks = hooks || hookOp(fs[i])
		requeues = requeues || requeuing(fs[i].Outcome)
	}
	keys = make([]string, 0, 13+len(idx))
	keys = append(keys, b.keys.Leases(q), b.keys.Scheduled(q), b.keys.Pending(q), b.keys.Ended(q, string(endedBy(fs[idx[0]].Outcome))))
	if slots {
		keys = append(keys, b.keys.Running(q), b.keys.Held(q), b.keys.Limits(q), b.keys.Settings(q))
	}
	for _, i := range idx {
		tok := fs[i].Claimed.Token
		if _, ok := tokenAt[tok]; !ok {
			tokenAt[tok] = len(tokens) + 1
			tokens = append(tokens, tok)
			keys = append(keys, b.keys.LeaseTasks(q, tok))
		}
	}
	args = make([]any, 0, 2+len(tokens)+4*len(idx))
	var m any = len(tokens)
	if slots {
		m = strconv.Itoa(len(tokens)) + "+"
	}
	if hooks {
		m = fmt.Sprint(m) + "h"
	}
	if requeues {
		m = fmt.Sprint(m) + "c"
	}
	args = append(args, b.keys.Done(), m)
	args = append(args, tokens...)
	var ops opCache
	for _, i := range idx {
		f := fs[i]
		c := f.Claimed
		var text any = f.Error
		ttl := ms(max(c.ResultTTL, 0))
		switch f.Outcome {
		case Succeeded:
			text = pack(f.Result) // a []byte, which go-redis writes as is, without a string copy
		case Retry:
			ttl = ms(f.RetryIn)
		case Failed:
			ttl = ms(b.failedKeep(c.ResultTTL))
		}
		key := b.keys.Task(c.ID)
		keys = append(keys, key)
		op := ops.op(f.Outcome, c.Failures > 0 || c.Crashes > 0, tokenAt[c.Token])
		if hookOp(f) {
			op += "h"
		}
		args = append(args, layout.IDOfKey(key), op, text, ttl)
	}
	if hooks {
		keys = append(keys, b.keys.Hooks(q))
	}
	if requeues {
		keys = append(keys, b.keys.Ended(q, string(results.StatusCanceled)))
	}
	if slots {
		args = b.slotArgs(args, fs, idx, tokens, tokenAt)
	}
	return keys, args
}

// slotArgs appends to finish.lua's arguments the max_running slots that
// the attempts fs[idx] hold, for the outcomes to give them back: the
// events channel and the queue, the tokens whose leases count against the
// queue's cap, and each attempt that holds a slot of its name, with the
// name.
func (b *Broker) slotArgs(args []any, fs []Finish, idx []int, tokens []any, tokenAt map[string]int) []any {
	q := fs[idx[0]].Claimed.Queue
	capped := make([]bool, len(tokens)+1)
	var counted []any
	for _, i := range idx {
		c := fs[i].Claimed
		if k := tokenAt[c.Token]; c.capped && !capped[k] {
			capped[k] = true
			counted = append(counted, k)
		}
	}
	args = append(args, b.keys.Events(), q, len(counted))
	args = append(args, counted...)
	for j, i := range idx {
		if c := fs[i].Claimed; c.slot {
			args = append(args, j+1, c.Name)
		}
	}
	return args
}

// opCache makes finish.lua's ops ("s1": the outcome's letter, then the
// index of the attempt's token), each once per call.
type opCache map[[2]int]string

// op returns the op of an attempt with outcome under the token at index
// tok; cleared says an earlier attempt may have left an error that a
// success must clear (a failure's, or the reaper's "worker lost").
func (c *opCache) op(outcome Outcome, cleared bool, tok int) string {
	letter := '?' // finish.lua refuses it, before writing anything
	switch outcome {
	case Release:
		letter = 'q'
	case Succeeded:
		letter = 's'
		if cleared {
			letter = 'S'
		}
	case Failed:
		letter = 'f'
	case Retry:
		letter = 'r'
	case Canceled:
		letter = 'x'
	}
	k := [2]int{int(letter), tok}
	if s, ok := (*c)[k]; ok {
		return s
	}
	if *c == nil {
		*c = make(opCache, 2)
	}
	s := string(letter) + strconv.Itoa(tok)
	(*c)[k] = s
	return s
}
