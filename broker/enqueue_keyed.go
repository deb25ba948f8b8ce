package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker/internal/layout"
)

// KeyKind is what a KeyClaim holds its key for.
type KeyKind string

// Kinds of claims: an idempotency key, or a unique key held for a time or
// until its task reaches a status. Every kind is also freed when its task
// is canceled (an idempotency key excepted) or its record is gone.
const (
	KeyIdempotency   KeyKind = "i" // while the holder's record lasts, up to the claim's TTL
	KeyUniqueFor     KeyKind = "f" // for the claim's TTL
	KeyUntilStarted  KeyKind = "s" // until the holder starts (TTL: a bound)
	KeyUntilFinished KeyKind = "F" // until the holder succeeds or fails (TTL: a bound)
)

// KeyClaim is a task's claim on a key of its queue: Enqueue writes the task
// only if no other task holds the key.
type KeyClaim struct {
	Kind KeyKind
	Key  string
	// Digest identifies the request (KeyIdempotency only): a task that
	// claims a held key with another digest is a Conflict with Mismatch.
	Digest string
	TTL    time.Duration // how long the claim lasts at most; rounded up to a millisecond
	// Reject is the caller's, carried for it: what it does when the key
	// is held. Enqueue does not read it.
	Reject bool
}

// Conflict is a task's claim held by another task.
type Conflict struct {
	Index    int // of the task among Enqueue's
	Key      int // of the claim among the task's Keys
	Holder   uuid.UUID
	Mismatch bool // the holder claimed the idempotency key for another request
}

// ConflictError refuses the tasks whose keys other tasks hold. No task of
// a queue with a conflict was written, nor any of its claims; a call
// spanning several queues may have written the others' tasks, which a
// resent call (same IDs) finds written.
type ConflictError struct {
	Conflicts []Conflict
}

func (e *ConflictError) Error() string {
	c := e.Conflicts[0]
	return fmt.Sprintf("broker: task %d's key is held by task %s (%d conflicts)", c.Index, c.Holder, len(e.Conflicts))
}

// keyed reports whether any of ts claims a key.
func keyed(ts []NewTask) bool {
	for i := range ts {
		if len(ts[i].Keys) > 0 {
			return true
		}
	}
	return false
}

// maxClaimRounds bounds the calls of enqueueKeyed: each round after the
// first names the holders the one before found, and a key changes hands
// between two rounds only when its holder's hold ended meanwhile.
const maxClaimRounds = 5

// claimRef locates a claim: task index and claim index.
type claimRef struct{ task, claim int }

// enqueueKeyed is Enqueue for calls where some task claims a key: one
// call of enqueueKeyedScript per queue, not group-committed. A claim held
// by a task not yet named costs one more round: the script can read only
// hashes it is given, so it names the holder, and the next round reads
// the holder's status. A task claiming a unique key also has it written
// into its hash (unique_note.lua, in the same round trip), for
// ReleaseUnique.
func (b *Broker) enqueueKeyed(ctx context.Context, ts []NewTask) ([]time.Time, error) {
	if err := b.check(ctx); err != nil {
		return nil, fmt.Errorf("broker: enqueue %d tasks: %w", len(ts), err)
	}
	groups := byQueue(ts, func(t NewTask) string { return t.Queue })
	bounds := []string{boundAll}
	if len(groups) > 1 {
		var err error
		if bounds, err = b.hold(ctx, ts, groups); err != nil {
			return nil, fmt.Errorf("broker: enqueue %d tasks: %w", len(ts), err)
		}
	}
	believed := make(map[claimRef]uuid.UUID)
	out := make([]enqueued, len(ts))
	written := make([]bool, len(groups))
	todo := make([]int, len(groups))
	for g := range todo {
		todo[g] = g
	}
	var conflicts []Conflict
	for round := 0; len(todo) > 0; round++ {
		if round == maxClaimRounds {
			return nil, fmt.Errorf("broker: enqueue %d tasks: their keys changed hands %d times", len(ts), round)
		}
		again, found, err := b.enqueueClaims(ctx, ts, groups, todo, bounds, believed, out, written)
		if err != nil {
			return nil, fmt.Errorf("broker: enqueue %d tasks: %w", len(ts), err)
		}
		todo, conflicts = again, append(conflicts, found...)
	}
	if len(conflicts) > 0 {
		if len(groups) > 1 {
			b.releaseUnwritten(ctx, ts, groups, bounds, written)
		}
		return nil, &ConflictError{Conflicts: conflicts}
	}
	created := make([]time.Time, len(ts))
	for i, r := range out {
		if r.full > 0 {
			return nil, fmt.Errorf("broker: enqueue %d tasks: %w", len(ts), &FullError{Queue: ts[i].Queue, MaxLength: r.full})
		}
		created[i] = r.created
	}
	return created, nil
}

// releaseUnwritten gives back the places hold held for the groups that
// were not written; what is not given back expires after holdFor.
func (b *Broker) releaseUnwritten(ctx context.Context, ts []NewTask, groups [][]int, bounds []string, written []bool) {
	unused := make([]string, len(groups))
	for g := range groups {
		if !written[g] {
			unused[g] = bounds[g]
		}
	}
	_ = b.release(ctx, ts, groups, unused)
}

// enqueueClaims runs one round of enqueueKeyed for the groups todo, in one
// round trip: it returns the groups to run again (a holder newly named in
// believed), the conflicts found, and fills out and written for the
// groups written.
func (b *Broker) enqueueClaims(ctx context.Context, ts []NewTask, groups [][]int, todo []int, bounds []string,
	believed map[claimRef]uuid.UUID, out []enqueued, written []bool) ([]int, []Conflict, error) {
	cmds := make([]*redis.Cmd, len(todo))
	refs := make([][]claimRef, len(todo))
	err := b.scriptPipeline(ctx, func(pipe redis.Pipeliner) error {
		for n, g := range todo {
			var keys []string
			var args []any
			keys, args, refs[n] = b.claimArgs(ts, groups[g], believed)
			ekeys, eargs := b.enqueueArgs(ts, groups[g], bounds[min(g, len(bounds)-1)])
			cmds[n] = enqueueKeyedScript.EvalSha(ctx, pipe, append(keys, ekeys...), append(args, eargs...)...)
			b.noteUnique(ctx, pipe, ts, groups[g])
		}
		return nil
	}, enqueueKeyedScript, uniqueNoteScript)
	if err != nil {
		return nil, nil, err
	}
	var again []int
	var conflicts []Conflict
	for n, g := range todo {
		found, recheck, err := readConflicts(cmds[n], refs[n], believed)
		switch {
		case err != nil:
			return nil, nil, err
		case len(found) > 0:
			conflicts = append(conflicts, found...)
		case recheck:
			again = append(again, g)
		default:
			if err := readEnqueued(cmds[n], groups[g], out); err != nil {
				return nil, nil, err
			}
			written[g] = true
		}
	}
	return again, conflicts, nil
}

// claimArgs builds claim_keys.lua's KEYS and ARGV for the tasks at idx,
// and the claim each of its claims is.
func (b *Broker) claimArgs(ts []NewTask, idx []int, believed map[claimRef]uuid.UUID) ([]string, []any, []claimRef) {
	var keys []string
	var refs []claimRef
	args := []any{0}
	for _, i := range idx {
		t := ts[i]
		for c, cl := range t.Keys {
			ref := claimRef{i, c}
			holder, known := believed[ref]
			name, hash, holderText := b.keys.Unique(t.Queue, cl.Key), b.keys.Task(t.ID), ""
			if cl.Kind == KeyIdempotency {
				name = b.keys.Idempotency(t.Queue, cl.Key)
			}
			if known {
				hash, holderText = b.keys.Task(holder), layout.IDText(holder)
			}
			keys = append(keys, name, hash)
			args = append(args, layout.IDText(t.ID), string(cl.Kind), cl.Digest, max(delayMillis(cl.TTL), 1), holderText)
			refs = append(refs, ref)
		}
	}
	args[0] = len(refs)
	return keys, args, refs
}

// enqueueArgs builds enqueue.lua's KEYS and ARGV for the tasks at idx,
// one queue's, under bound: the plain path (enqueueGroups) and the keyed
// one (behind claim_keys.lua) send the same.
func (b *Broker) enqueueArgs(ts []NewTask, idx []int, bound string) ([]string, []any) {
	q := ts[idx[0]].Queue
	keys := make([]string, 0, 5+len(idx))
	keys = append(keys, b.keys.Pending(q), b.keys.Log(q))
	args := make([]any, 0, 3*len(idx)+1)
	for _, i := range idx {
		t := ts[i]
		key := b.keys.Task(t.ID)
		keys = append(keys, key)
		m := meta{maxRetries: t.MaxRetries, timeout: t.Timeout, resultTTL: t.ResultTTL, queue: t.Queue, name: t.Name}
		args = append(args, layout.IDOfKey(key), m.String(), packTask(t))
	}
	keys = append(keys, b.keys.Settings(q), b.keys.Reserved(q))
	keys, args = b.schedule(ts, idx, keys, args, bound)
	return keys, moreFields(ts, idx, args)
}

// readConflicts reads a conflict reply of claim_keys.lua, if cmd's is
// one: the conflicts with holders whose status was read, and whether
// holders not yet believed were named (recorded in believed), so that
// the group must run again.
func readConflicts(cmd *redis.Cmd, refs []claimRef, believed map[claimRef]uuid.UUID) ([]Conflict, bool, error) {
	v, err := cmd.Result()
	if err != nil {
		return nil, false, err
	}
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 || arr[0] != "conflict" {
		return nil, false, nil
	}
	var found []Conflict
	recheck := false
	for j := 1; j+2 < len(arr); j += 3 {
		n, _ := arr[j].(int64)
		code, _ := arr[j+1].(string)
		holder, err := layout.ParseIDText(toString(arr[j+2]))
		if n < 1 || int(n) > len(refs) || err != nil {
			return nil, false, errors.New("claim_keys.lua: malformed conflict reply")
		}
		ref := refs[n-1]
		switch code {
		case "check":
			believed[ref] = holder
			recheck = true
		case "held", "mismatch":
			found = append(found, Conflict{Index: ref.task, Key: ref.claim, Holder: holder, Mismatch: code == "mismatch"})
		default:
			return nil, false, fmt.Errorf("claim_keys.lua: unknown conflict %q", code)
		}
	}
	return found, recheck, nil
}
