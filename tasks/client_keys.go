package tasks

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

// enqueue queues ts and returns their records: enqueueKeyed when some
// claim keys, else enqueuePlain. A refusal for lack of room is the
// broker's *FullError; ts keep the IDs Enqueue gave them, so that a
// submission sent again after one is the same tasks.
func (c *Client) enqueue(ctx context.Context, ts []broker.NewTask) ([]results.Record, error) {
	if keyed(ts) {
		return c.enqueueKeyed(ctx, ts)
	}
	return c.enqueuePlain(ctx, ts)
}

// keyed reports whether any of ts claims an idempotency or unique key.
func keyed(ts []broker.NewTask) bool {
	for i := range ts {
		if len(ts[i].Keys) > 0 {
			return true
		}
	}
	return false
}

// maxGoneRounds bounds how often enqueueKeyed starts again because a
// holder's record was gone when it came to read it (its key is then free).
const maxGoneRounds = 3

// enqueueKeyed is enqueue for tasks of which some claim keys. Each task
// whose key another task holds answers with the holder's current record,
// Replayed (an idempotency key first, when a task finds both held); the
// rest are queued as enqueue queues them. It fails, queuing nothing of
// the tasks' queue, with ErrIdempotencyMismatch for an idempotency key
// first used for another request, and with a *DuplicateError for a held
// unique key whose submission said OnConflictReject.
func (c *Client) enqueueKeyed(ctx context.Context, ts []broker.NewTask) ([]results.Record, error) {
	if err := oneQueue(ts); err != nil {
		return nil, err
	}
	if err := distinctKeys(ts); err != nil {
		return nil, err
	}
	holders := make(map[int]uuid.UUID) // task index -> the task holding its key
	for gone := 0; ; {
		out, err := c.enqueueUnheld(ctx, ts, holders)
		if err != nil {
			return nil, err
		}
		missing, err := c.readHolders(ctx, holders, out)
		if err != nil {
			return nil, err
		}
		if !missing {
			return out, nil
		}
		if gone++; gone == maxGoneRounds {
			return nil, fmt.Errorf("tasks: submit: the tasks holding the keys kept going away")
		}
	}
}

// readHolders reads the records of the holders, in one round trip, into
// out at their tasks' places, Replayed. A holder gone since (its key is
// free) leaves holders, and missing reports it.
func (c *Client) readHolders(ctx context.Context, holders map[int]uuid.UUID, out []results.Record) (missing bool, err error) {
	if len(holders) == 0 {
		return false, nil
	}
	idx := make([]int, 0, len(holders))
	ids := make([]uuid.UUID, 0, len(holders))
	for i, h := range holders {
		idx, ids = append(idx, i), append(ids, h)
	}
	recs, errs := c.b.GetMany(ctx, ids)
	for j, i := range idx {
		switch {
		case errors.Is(errs[j], ErrNotFound):
			delete(holders, i)
			missing = true
		case errs[j] != nil:
			return false, fmt.Errorf("tasks: submit: read task %s: %w", ids[j], unavailable(errs[j]))
		default:
			recs[j].Replayed = true
			out[i] = recs[j]
		}
	}
	return missing, nil
}

// enqueueUnheld queues the tasks of ts not in holders, adding to holders
// the tasks found holding their keys and queuing the others, until none
// is found: the records of those queued are in place in the result. The
// tasks keep the IDs Enqueue gave them, so that a resent call is the same
// tasks.
func (c *Client) enqueueUnheld(ctx context.Context, ts []broker.NewTask, holders map[int]uuid.UUID) ([]results.Record, error) {
	out := make([]results.Record, len(ts))
	for {
		var rest []int
		for i := range ts {
			if _, held := holders[i]; !held {
				rest = append(rest, i)
			}
		}
		if len(rest) == 0 {
			return out, nil
		}
		sub := make([]broker.NewTask, len(rest))
		for j, i := range rest {
			sub[j] = ts[i]
		}
		recs, err := c.enqueuePlain(ctx, sub)
		for j, i := range rest {
			ts[i].ID = sub[j].ID
		}
		var ce *broker.ConflictError
		if !errors.As(err, &ce) {
			if err != nil {
				return nil, err
			}
			for j, i := range rest {
				out[i] = recs[j]
			}
			return out, nil
		}
		if err := noteHolders(ce.Conflicts, sub, rest, holders); err != nil {
			return nil, err
		}
	}
}

// noteHolders records in holders the holder of each conflict (of the
// tasks sub, which are ts's at rest), an idempotency key's before a unique
// key's, or returns the error a conflict ends the submission with.
func noteHolders(conflicts []broker.Conflict, sub []broker.NewTask, rest []int, holders map[int]uuid.UUID) error {
	for _, idem := range []bool{true, false} {
		for _, cf := range conflicts {
			claim := sub[cf.Index].Keys[cf.Key]
			if (claim.Kind == broker.KeyIdempotency) != idem {
				continue
			}
			i := rest[cf.Index]
			if _, done := holders[i]; done {
				continue
			}
			switch {
			case cf.Mismatch:
				return &IdempotencyMismatchError{Key: claim.Key, Holder: cf.Holder}
			case claim.Reject:
				return &DuplicateError{Key: claim.Key, Holder: cf.Holder}
			}
			holders[i] = cf.Holder
		}
	}
	return nil
}

// distinctKeys refuses a batch in which two tasks carry the same
// idempotency key, or the same unique key, in one queue.
func distinctKeys(ts []broker.NewTask) error {
	type key struct {
		queue, key string
		idem       bool
	}
	seen := make(map[key]int)
	for i, t := range ts {
		for _, cl := range t.Keys {
			k := key{t.Queue, cl.Key, cl.Kind == broker.KeyIdempotency}
			if j, ok := seen[k]; ok {
				what := "unique key"
				if k.idem {
					what = "idempotency key"
				}
				return fmt.Errorf("%w: tasks[%d] and tasks[%d] carry the same %s %q in queue %s", ErrInvalid, j, i, what, cl.Key, t.Queue)
			}
			seen[k] = i
		}
	}
	return nil
}

// oneQueue refuses a keyed batch whose tasks span several queues. Each
// queue's tasks are written, and their keys claimed, in a script call of
// their own (the queues are in different slots), so a key found held in
// one queue, refusing the batch (409 or 422), would come after another
// queue's tasks were written: a refused batch must change nothing.
func oneQueue(ts []broker.NewTask) error {
	for i := range ts {
		if ts[i].Queue != ts[0].Queue {
			return fmt.Errorf("%w: a batch whose tasks carry idempotency or unique keys keeps to one queue "+
				"(tasks[0] is in %s, tasks[%d] in %s): send one batch per queue", ErrInvalid, ts[0].Queue, i, ts[i].Queue)
		}
	}
	return nil
}

// releaseUnique deletes the claim of canceled task id's unique key, if it
// holds one, so that it does not linger until its expiry. A failure is
// not the cancel's: the claim is free already (claim_keys.lua reads a
// canceled holder as none), only kept in Redis longer.
func (c *Client) releaseUnique(ctx context.Context, id uuid.UUID) {
	if _, err := c.b.ReleaseUnique(ctx, id); err != nil {
		c.cfg.Logger.Warn("tasks: cancel: the unique key's claim stays until it expires", "task", id, "err", err)
	}
}
