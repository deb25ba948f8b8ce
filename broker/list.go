package broker

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker/internal/layout"
	"github.com/runq/runq/results"
)

// ListQuery selects the tasks that List returns.
type ListQuery struct {
	Queues []string       // the queues to list, at least one
	Status results.Status // "" for any
	Name   string         // "" for any
	Limit  int            // records per page, at least 1
	Cursor string         // from the page before; "" starts at the newest
	// Budget bounds the tasks one call examines, so that a filter that
	// matches rarely cannot make a call slow; 0 means 20 times Limit, at
	// least 1,000.
	Budget int
}

// ErrBadCursor reports a cursor that List did not make, or made for
// another status filter.
var ErrBadCursor = errors.New("broker: invalid cursor")

// List returns the records of the tasks q selects, newest first, and the
// cursor that continues after them ("" when nothing is left). Without a
// status filter, or with a status of a task not ended, it walks the
// queues' indexes in ID order, which is creation order; with succeeded,
// failed or canceled, it walks that status's set, in order of expiry,
// which for one result TTL is the order in which they ended. Each queue is
// read in chunks, merged with the others by that order. A cursor names the
// last task examined, so tasks added or expired meanwhile do not shift the
// pages: new ones sort before it, and a gone one is skipped.
func (b *Broker) List(ctx context.Context, q ListQuery) ([]results.Record, string, error) {
	if err := b.check(ctx); err != nil {
		return nil, "", err
	}
	l, err := b.newLister(q)
	if err != nil {
		return nil, "", err
	}
	recs, next, err := l.run(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("broker: list tasks: %w", err)
	}
	return recs, next, nil
}

// position is a place in the order List walks: by score, then by ID, both
// descending. In an index every score is 0.
type position struct {
	score float64
	id    string
}

// before reports whether p comes before o in List's order.
func (p position) before(o position) bool {
	return p.score > o.score || (p.score == o.score && p.id > o.id)
}

// candidate is an entry of a queue's index or ended set.
type candidate struct {
	position
	queue string
}

// lister is one List call.
type lister struct {
	b      *Broker
	q      ListQuery
	ended  bool // walking the ended sets of q.Status, not the indexes
	after  *position
	chunk  int
	budget int
}

func (b *Broker) newLister(q ListQuery) (*lister, error) {
	if len(q.Queues) == 0 || q.Limit < 1 {
		return nil, fmt.Errorf("broker: list: %d queues and a limit of %d", len(q.Queues), q.Limit)
	}
	for _, queue := range q.Queues {
		if err := ValidQueue(queue); err != nil {
			return nil, err
		}
	}
	l := &lister{b: b, q: q, chunk: min(max(q.Limit, 50), 500), budget: q.Budget}
	switch q.Status {
	case results.StatusSucceeded, results.StatusFailed, results.StatusCanceled:
		l.ended = true
	}
	if l.budget <= 0 {
		l.budget = max(20*q.Limit, 1000)
	}
	if q.Cursor != "" {
		p, err := parseCursor(q.Cursor, l.ended)
		if err != nil {
			return nil, err
		}
		l.after = &p
	}
	return l, nil
}

// run examines candidates in order until it has Limit matches, has spent
// its budget, or the sources run out.
func (l *lister) run(ctx context.Context) ([]results.Record, string, error) {
	var matched []candidate
	examined := 0
	for {
		batch, more, err := l.next(ctx)
		if err != nil {
			return nil, "", err
		}
		batch = batch[:min(len(batch), l.budget-examined)]
		keep, err := l.filter(ctx, batch)
		if err != nil {
			return nil, "", err
		}
		for i, c := range batch {
			examined++
			l.after = &batch[i].position
			if keep[i] {
				matched = append(matched, c)
			}
			if len(matched) == l.q.Limit {
				break
			}
		}
		if len(matched) == l.q.Limit || examined >= l.budget || !more {
			recs, err := l.records(ctx, matched)
			if err != nil {
				return nil, "", err
			}
			if !more && examined < l.budget && len(matched) < l.q.Limit {
				return recs, "", nil
			}
			return recs, formatCursor(*l.after, l.ended), nil
		}
	}
}

// next reads the next chunk of every queue after l.after, in one round
// trip, and returns the candidates that are surely next in order: all
// those down to the last of the chunk that ended highest (a queue whose
// chunk was full may hold more above the others' later entries). more is
// false when every queue has run out.
func (l *lister) next(ctx context.Context) ([]candidate, bool, error) {
	reads := make([]func() ([]redis.Z, error), len(l.q.Queues))
	err := l.b.scriptPipeline(ctx, func(p redis.Pipeliner) error {
		for i, queue := range l.q.Queues {
			reads[i] = l.read(ctx, p, queue)
		}
		return nil
	}, pageScript)
	if err != nil {
		return nil, false, err
	}
	var all []candidate
	var bound *position
	for i, read := range reads {
		zs, err := read()
		if err != nil {
			return nil, false, err
		}
		for _, z := range zs {
			c := candidate{position{z.Score, z.Member.(string)}, l.q.Queues[i]}
			if l.after == nil || l.after.before(c.position) {
				all = append(all, c)
			}
		}
		if len(zs) == l.chunk { // full: more may follow
			last := position{zs[len(zs)-1].Score, zs[len(zs)-1].Member.(string)}
			if bound == nil || last.before(*bound) {
				bound = &last
			}
		}
	}
	slices.SortFunc(all, func(a, b candidate) int {
		switch {
		case a.before(b.position):
			return -1
		case b.before(a.position):
			return 1
		}
		return 0
	})
	if bound != nil {
		n := 0
		for n < len(all) && !bound.before(all[n].position) {
			n++
		}
		all = all[:n]
	}
	return all, bound != nil, nil
}

// read queues the read of queue's next chunk after l.after, and returns
// the function that reads its reply once the pipeline has run.
func (l *lister) read(ctx context.Context, p redis.Pipeliner, queue string) func() ([]redis.Z, error) {
	if !l.ended {
		max := "+"
		if l.after != nil {
			max = "(" + l.after.id
		}
		// BYLEX takes no WITHSCORES: every score in an index is 0.
		cmd := redis.NewStringSliceCmd(ctx, "zrange", l.b.keys.Index(queue), max, "-", "bylex", "rev", "limit", 0, l.chunk)
		_ = p.Process(ctx, cmd)
		return func() ([]redis.Z, error) {
			ids, err := cmd.Result()
			zs := make([]redis.Z, len(ids))
			for i, id := range ids {
				zs[i].Member = id
			}
			return zs, err
		}
	}
	key := l.b.keys.Ended(queue, string(l.q.Status))
	if l.after == nil {
		cmd := redis.NewZSliceCmd(ctx, "zrange", key, "+inf", "-inf", "byscore", "rev", "limit", 0, l.chunk, "withscores")
		_ = p.Process(ctx, cmd)
		return cmd.Result
	}
	cmd := pageScript.EvalSha(ctx, p, []string{key}, formatScore(l.after.score), l.after.id, l.chunk)
	return func() ([]redis.Z, error) { return zsOf(cmd) }
}

// zsOf reads a script's reply in the form of ZRANGE WITHSCORES.
func zsOf(cmd *redis.Cmd) ([]redis.Z, error) {
	flat, err := cmd.StringSlice()
	if err != nil {
		return nil, err
	}
	zs := make([]redis.Z, 0, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		score, err := strconv.ParseFloat(flat[i+1], 64)
		if err != nil {
			return nil, fmt.Errorf("page.lua: score %q: %w", flat[i+1], err)
		}
		zs = append(zs, redis.Z{Member: flat[i], Score: score})
	}
	return zs, nil
}

// formatScore writes a score as ZRANGE BYSCORE takes it.
func formatScore(f float64) string {
	if math.IsInf(f, 1) {
		return "+inf"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// filter reports which candidates match the query's status and name,
// reading each task's status and meta in one round trip; none is read when
// nothing is filtered (the walk's own order filters the ended statuses).
// An index entry whose task is gone is dropped from the index on the way.
func (l *lister) filter(ctx context.Context, batch []candidate) ([]bool, error) {
	keep := make([]bool, len(batch))
	if l.q.Name == "" && (l.q.Status == "" || l.ended) {
		for i := range keep {
			keep[i] = true
		}
		return keep, nil
	}
	cmds := make([]*redis.SliceCmd, len(batch))
	_, err := l.b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range batch {
			id, err := uuid.Parse(c.id)
			if err != nil {
				return fmt.Errorf("malformed id %q in the index of %s: %w", c.id, c.queue, err)
			}
			cmds[i] = p.HMGet(ctx, l.b.keys.Task(id), layout.FieldStatus, layout.FieldAttempt, layout.FieldMeta)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var gone []candidate
	for i, cmd := range cmds {
		f := make(map[string]string, 3)
		for j, name := range []string{layout.FieldStatus, layout.FieldAttempt, layout.FieldMeta} {
			if v, ok := cmd.Val()[j].(string); ok {
				f[name] = v
			}
		}
		status := statusOf(f)
		if status == "" {
			gone = append(gone, batch[i])
			continue
		}
		keep[i] = (l.q.Status == "" || status == l.q.Status) && (l.q.Name == "" || metaName(f[layout.FieldMeta]) == l.q.Name)
	}
	l.forget(ctx, gone)
	return keep, nil
}

// forget drops from their indexes the entries of tasks found gone. It is
// best effort: Maintain trims the indexes of expired tasks in any case,
// and a failure here changes no answer.
func (l *lister) forget(ctx context.Context, gone []candidate) {
	if len(gone) == 0 || l.ended {
		return
	}
	_, _ = l.b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, c := range gone {
			p.ZRem(ctx, l.b.keys.Index(c.queue), c.id)
		}
		return nil
	})
}

// records reads the matched tasks' records, in one round trip, leaving
// out those gone since they were examined.
func (l *lister) records(ctx context.Context, matched []candidate) ([]results.Record, error) {
	ids := make([]uuid.UUID, len(matched))
	for i, c := range matched {
		id, err := uuid.Parse(c.id)
		if err != nil {
			return nil, fmt.Errorf("malformed id %q in %s: %w", c.id, c.queue, err)
		}
		ids[i] = id
	}
	recs, errs := l.b.GetMany(ctx, ids)
	out := recs[:0]
	for i, err := range errs {
		switch {
		case err == nil:
			out = append(out, recs[i])
		case !errors.Is(err, results.ErrNotFound):
			return nil, err
		}
	}
	return out, nil
}

// A cursor is base64 (URL alphabet) of "i.<id>" in an index, or
// "e.<score>.<id>" in an ended set.
func formatCursor(p position, ended bool) string {
	s := "i." + p.id
	if ended {
		s = "e." + formatScore(p.score) + "." + p.id
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// parseCursor reads a cursor of formatCursor, made for a walk of the same
// kind (ended or not).
func parseCursor(c string, ended bool) (position, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	text := string(raw)
	var p position
	switch {
	case err != nil:
	case !ended && strings.HasPrefix(text, "i."):
		p.id = text[2:]
	case ended && strings.HasPrefix(text, "e."):
		score, id, ok := strings.Cut(text[2:], ".")
		p.id = id
		if p.score, err = strconv.ParseFloat(score, 64); !ok {
			err = ErrBadCursor
		}
	default:
		err = ErrBadCursor
	}
	if err == nil && len(p.id) != layout.IDTextLen {
		err = ErrBadCursor
	}
	if err != nil {
		return position{}, fmt.Errorf("%w %q: use the next_cursor of a page of the same status filter", ErrBadCursor, truncateText(c, 64))
	}
	return p, nil
}

// truncateText shortens s to n bytes for an error message.
func truncateText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
