package broker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
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
// cursor that continues after them ("" when nothing is left). Failed and
// canceled tasks are listed from their sorted sets, in order of expiry,
// which for one result TTL is the order in which they ended; every other
// listing walks the queues' logs from their tails, in the order the tasks
// were queued, reading each task's status and name to filter them. The
// queues' streams are merged by task ID, which is by creation time. A
// cursor holds, per queue, the place of the last task examined, so tasks
// added or expired meanwhile do not shift the pages.
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

// entry is one task in a queue's stream: its place there (a log position,
// or a score in an ended set) and its ID.
type entry struct {
	score float64 // log: the position; ended set: the expiry
	id    string
}

// stream is one queue's walk, newest first.
type stream struct {
	queue string
	buf   []entry // read ahead, in walk order
	after *entry  // the last entry examined; nil before the first
	done  bool    // nothing is left after buf
}

// lister is one List call.
type lister struct {
	b       *Broker
	q       ListQuery
	ended   bool // walking the ended sets of q.Status, not the logs
	streams []*stream
	chunk   int
	budget  int
}

func (b *Broker) newLister(q ListQuery) (*lister, error) {
	if len(q.Queues) == 0 || q.Limit < 1 {
		return nil, fmt.Errorf("broker: list: %d queues and a limit of %d", len(q.Queues), q.Limit)
	}
	l := &lister{b: b, q: q, chunk: min(max(q.Limit, 50), 500), budget: q.Budget}
	l.ended = q.Status == results.StatusFailed || q.Status == results.StatusCanceled
	if l.budget <= 0 {
		l.budget = max(20*q.Limit, 1000)
	}
	places, err := parseCursor(q.Cursor, l.mode())
	if err != nil {
		return nil, err
	}
	for _, queue := range q.Queues {
		if err := ValidQueue(queue); err != nil {
			return nil, err
		}
		s := &stream{queue: queue}
		if p, ok := places[queue]; ok {
			s.after, s.done = p, p == nil
		}
		l.streams = append(l.streams, s)
	}
	return l, nil
}

// mode names the walk, in cursors: the logs, or an ended set.
func (l *lister) mode() string {
	if l.ended {
		return string(l.q.Status)
	}
	return "log"
}

// run examines entries, newest first across the streams, until it has
// Limit matches, has spent its budget, or the streams run out.
func (l *lister) run(ctx context.Context) ([]results.Record, string, error) {
	var matched []candidate
	for examined := 0; len(matched) < l.q.Limit && examined < l.budget; {
		batch, err := l.next(ctx, min(l.chunk, l.budget-examined))
		if err != nil {
			return nil, "", err
		}
		if len(batch) == 0 {
			break
		}
		keep, err := l.filter(ctx, batch)
		if err != nil {
			return nil, "", err
		}
		i := 0
		for ; i < len(batch) && len(matched) < l.q.Limit; i++ {
			examined++
			batch[i].s.after = &batch[i].entry
			if keep[i] {
				matched = append(matched, batch[i])
			}
		}
		for j := len(batch) - 1; j >= i; j-- { // not examined: back, for the cursor
			c := batch[j]
			c.s.buf = append([]entry{c.entry}, c.s.buf...)
		}
	}
	recs, err := l.records(ctx, matched)
	if err != nil {
		return nil, "", err
	}
	return recs, l.cursor(), nil
}

// candidate is an entry of one stream.
type candidate struct {
	entry
	s *stream
}

// next returns up to n entries, newest first across the streams, reading
// ahead (one round trip for every stream whose buffer ran out) as needed.
// Each stream is in its own order; across streams, the entry with the
// greatest ID (or, in ended sets, expiry then ID) comes first.
func (l *lister) next(ctx context.Context, n int) ([]candidate, error) {
	var out []candidate
	for len(out) < n {
		if err := l.fill(ctx); err != nil {
			return nil, err
		}
		var best *stream
		for _, s := range l.streams {
			if len(s.buf) > 0 && (best == nil || l.before(s.buf[0], best.buf[0])) {
				best = s
			}
		}
		if best == nil {
			break
		}
		out = append(out, candidate{best.buf[0], best})
		best.buf = best.buf[1:]
	}
	return out, nil
}

// before reports whether a comes before b in a merged walk.
func (l *lister) before(a, b entry) bool {
	if l.ended && a.score != b.score {
		return a.score > b.score
	}
	return a.id > b.id
}

// fill reads the next chunk of every stream whose buffer is empty and
// which is not done, in one round trip.
func (l *lister) fill(ctx context.Context) error {
	var empty []*stream
	for _, s := range l.streams {
		if len(s.buf) == 0 && !s.done {
			empty = append(empty, s)
		}
	}
	if len(empty) == 0 {
		return nil
	}
	cmds := make([]*redis.Cmd, len(empty))
	err := l.b.scriptPipeline(ctx, func(p redis.Pipeliner) error {
		for i, s := range empty {
			cmds[i] = l.read(ctx, p, s)
		}
		return nil
	}, logReadScript, pageScript)
	if err != nil {
		return err
	}
	for i, s := range empty {
		es, err := l.entries(cmds[i])
		if err != nil {
			return err
		}
		s.buf, s.done = es, len(es) < l.chunk
	}
	return nil
}

// read queues the read of s's next chunk, after s.after.
func (l *lister) read(ctx context.Context, p redis.Pipeliner, s *stream) *redis.Cmd {
	if !l.ended {
		pos := ""
		if s.after != nil {
			pos = strconv.FormatInt(int64(s.after.score), 10)
		}
		return logReadScript.EvalSha(ctx, p, []string{l.b.keys.Log(s.queue), l.b.keys.LogBase(s.queue)}, pos, l.chunk, "back")
	}
	score, id := "", ""
	if s.after != nil {
		score, id = formatScore(s.after.score), s.after.id
	}
	return pageScript.EvalSha(ctx, p, []string{l.b.keys.Ended(s.queue, string(l.q.Status))}, score, id, l.chunk)
}

// entries reads the reply of read: log_read.lua's (the position of the
// first ID, then the IDs in log order) or page.lua's (ID, score, ...), as
// entries newest first.
func (l *lister) entries(cmd *redis.Cmd) ([]entry, error) {
	flat, err := cmd.StringSlice()
	if err != nil {
		return nil, err
	}
	if !l.ended {
		if len(flat) == 0 {
			return nil, errors.New("log_read.lua replied nothing")
		}
		first, err := strconv.ParseInt(flat[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("log_read.lua: position %q: %w", flat[0], err)
		}
		ids := flat[1:]
		es := make([]entry, len(ids))
		for i, id := range ids {
			es[len(ids)-1-i] = entry{float64(first + int64(i)), id}
		}
		return es, nil
	}
	es := make([]entry, 0, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		score, err := strconv.ParseFloat(flat[i+1], 64)
		if err != nil {
			return nil, fmt.Errorf("page.lua: score %q: %w", flat[i+1], err)
		}
		es = append(es, entry{score, flat[i]})
	}
	return es, nil
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
// nothing is filtered (an ended set holds one status). A log entry whose
// task is gone matches nothing.
func (l *lister) filter(ctx context.Context, batch []candidate) ([]bool, error) {
	keep := make([]bool, len(batch))
	if l.q.Name == "" && (l.q.Status == "" || l.ended) {
		for i := range keep {
			keep[i] = true
		}
		return keep, nil
	}
	fields := []string{layout.FieldStatus, layout.FieldAttempt, layout.FieldMeta}
	cmds := make([]*redis.SliceCmd, len(batch))
	_, err := l.b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range batch {
			id, err := layout.ParseIDText(c.id)
			if err != nil {
				return fmt.Errorf("malformed id %q listed in %s: %w", c.id, c.s.queue, err)
			}
			cmds[i] = p.HMGet(ctx, l.b.keys.Task(id), fields...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, cmd := range cmds {
		f := make(map[string]string, len(fields))
		for j, name := range fields {
			if v, ok := cmd.Val()[j].(string); ok {
				f[name] = v
			}
		}
		status := statusOf(f)
		keep[i] = status != "" && (l.q.Status == "" || status == l.q.Status) &&
			(l.q.Name == "" || metaName(f[layout.FieldMeta]) == l.q.Name)
	}
	return keep, nil
}

// records reads the matched tasks' records, in one round trip, leaving
// out those gone since they were queued.
func (l *lister) records(ctx context.Context, matched []candidate) ([]results.Record, error) {
	ids := make([]uuid.UUID, len(matched))
	for i, c := range matched {
		id, err := layout.ParseIDText(c.id)
		if err != nil {
			return nil, fmt.Errorf("malformed id %q listed in %s: %w", c.id, c.s.queue, err)
		}
		ids[i] = id
	}
	recs, errs := l.b.GetMany(ctx, ids)
	out := make([]results.Record, 0, len(recs))
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

// cursorJSON is a cursor's content, base64 (URL alphabet) encoded: the
// walk it belongs to and, per queue, the place of the last entry examined
// ("<score> <id>") or "" once the queue has nothing left. A queue it does
// not name starts at its newest.
type cursorJSON struct {
	Mode   string            `json:"m"`
	Places map[string]string `json:"p"`
}

// cursor returns the cursor after this page, or "" when every stream has
// run out.
func (l *lister) cursor() string {
	c := cursorJSON{Mode: l.mode(), Places: make(map[string]string)}
	more := false
	for _, s := range l.streams {
		switch {
		case s.done && len(s.buf) == 0:
			c.Places[s.queue] = ""
		case s.after != nil:
			c.Places[s.queue] = strconv.FormatFloat(s.after.score, 'g', -1, 64) + " " + s.after.id
			more = true
		default:
			more = true
		}
	}
	if !more {
		return ""
	}
	b, _ := json.Marshal(c) // a map of strings always encodes
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseCursor reads a cursor of the walk mode: the places of its queues,
// nil for a queue with nothing left.
func parseCursor(text, mode string) (map[string]*entry, error) {
	if text == "" {
		return nil, nil
	}
	var c cursorJSON
	raw, err := base64.RawURLEncoding.DecodeString(text)
	if err == nil {
		err = json.Unmarshal(raw, &c)
	}
	if err == nil && c.Mode != mode {
		err = errors.New("made for another status filter")
	}
	places := make(map[string]*entry, len(c.Places))
	for q, p := range c.Places {
		if err != nil {
			break
		}
		if p == "" {
			places[q] = nil
			continue
		}
		score, id, ok := strings.Cut(p, " ")
		e := &entry{id: id}
		if e.score, err = strconv.ParseFloat(score, 64); err == nil && (!ok || len(id) != layout.IDTextLen) {
			err = errors.New("malformed place")
		}
		places[q] = e
	}
	if err != nil {
		return nil, fmt.Errorf("%w %q: use the next_cursor of a page of the same filter", ErrBadCursor, truncateText(text, 64))
	}
	return places, nil
}

// truncateText shortens s to n bytes for an error message.
func truncateText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
