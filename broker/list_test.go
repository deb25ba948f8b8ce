package broker_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

// listAll pages through q with limit per page and returns the IDs in the
// order listed, failing on a page over limit or a loop.
func listAll(t *testing.T, s bundle, q broker.ListQuery) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatalf("List(%+v): more than 100 pages", q)
		}
		recs, next, err := s.b.List(s.ctx, q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		if len(recs) > q.Limit {
			t.Fatalf("List(%+v) = %d records, over the limit", q, len(recs))
		}
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
		if next == "" {
			return ids
		}
		q.Cursor = next
	}
}

// newestFirst returns ids sorted as List orders an index: by ID, which is
// by creation time, newest first.
func newestFirst(ids []uuid.UUID) []uuid.UUID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b uuid.UUID) int { return strings.Compare(b.String(), a.String()) })
	return out
}

func TestListPagesNewestFirstAcrossQueues(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		var ids []uuid.UUID
		for i := range 7 {
			ids = append(ids, enqueue(t, s, []string{"a", "b"}[i%3%2], "x", 0))
		}
		q := broker.ListQuery{Queues: []string{"a", "b"}, Limit: 3}
		if got, want := listAll(t, s, q), newestFirst(ids); !slices.Equal(got, want) {
			t.Fatalf("listed %v, want %v", got, want)
		}

		// A page's cursor holds its place while tasks are added: the new
		// ones sort before it.
		first, next, err := s.b.List(s.ctx, q)
		if err != nil || len(first) != 3 || next == "" {
			t.Fatalf("List = %d records, cursor %q, %v; want 3 and a cursor", len(first), next, err)
		}
		added := enqueue(t, s, "a", "x", 0)
		q.Cursor = next
		rest := listAll(t, s, q)
		if want := newestFirst(ids)[3:]; !slices.Equal(rest, want) {
			t.Errorf("after adding %s, the pages after the first = %v, want %v", added, rest, want)
		}
	})
}

func TestListFilters(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		queued := enqueue(t, s, "q", "x", 0)
		other := enqueue(t, s, "q", "y", 0)
		running := enqueue(t, s, "q", "x", 0)
		// claim takes from the head: queued and other first, so requeue
		// them by finishing them in the ways the test wants.
		cs := claimN(t, s, "q", 3, time.Minute)
		for _, c := range cs {
			switch c.ID {
			case queued:
				mustFinish(t, s, broker.Finish{Claimed: &c, Outcome: broker.Release})
			case other:
				mustFinish(t, s, broker.Finish{Claimed: &c, Outcome: broker.Failed, Error: "boom"})
			}
		}
		tests := []struct {
			status results.Status
			name   string
			want   []uuid.UUID
		}{
			{"", "", newestFirst([]uuid.UUID{queued, other, running})},
			{results.StatusQueued, "", []uuid.UUID{queued}},
			{results.StatusRunning, "", []uuid.UUID{running}},
			{results.StatusFailed, "", []uuid.UUID{other}},
			{results.StatusSucceeded, "", nil},
			{"", "x", newestFirst([]uuid.UUID{queued, running})},
			{results.StatusFailed, "x", nil},
		}
		for _, tt := range tests {
			got := listAll(t, s, broker.ListQuery{Queues: []string{"q"}, Status: tt.status, Name: tt.name, Limit: 2})
			if !slices.Equal(got, tt.want) {
				t.Errorf("List(status %q, name %q) = %v, want %v", tt.status, tt.name, got, tt.want)
			}
		}
	})
}

func mustFinish(t *testing.T, s bundle, f broker.Finish) {
	t.Helper()
	if err := finish(s, f); err != nil {
		t.Fatalf("Finish(%s %s): %v", f.Claimed.ID, f.Outcome, err)
	}
}

// Tasks ended in one call share their expiry, their score: pages must
// split such a run of ties exactly, whether the cursor's task is still
// there or has been retried since.
func TestListEndedPagesSplitTies(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		var ids []uuid.UUID
		for range 9 {
			ids = append(ids, enqueue(t, s, "q", "x", 0))
		}
		cs := claimN(t, s, "q", 9, time.Minute)
		fs := make([]broker.Finish, len(cs))
		for i := range cs {
			fs[i] = broker.Finish{Claimed: &cs[i], Outcome: broker.Failed, Error: "boom"}
		}
		if _, err := s.b.Finish(s.ctx, fs); err != nil {
			t.Fatal(err)
		}
		q := broker.ListQuery{Queues: []string{"q"}, Status: results.StatusFailed, Limit: 2}
		if got, want := listAll(t, s, q), newestFirst(ids); !slices.Equal(got, want) {
			t.Fatalf("listed failed %v, want %v", got, want)
		}
		recs, next, err := s.b.List(s.ctx, q)
		if err != nil || len(recs) != 2 {
			t.Fatalf("List = %d, %v", len(recs), err)
		}
		if st, err := s.b.Retry(s.ctx, recs[1].ID); err != nil || st != broker.StatusRetried {
			t.Fatalf("Retry = %s, %v", st, err)
		}
		q.Cursor = next
		if got, want := listAll(t, s, q), newestFirst(ids)[2:]; !slices.Equal(got, want) {
			t.Errorf("after retrying the cursor's task, the next pages = %v, want %v", got, want)
		}
	})
}

// A filter that matches rarely returns short pages with a cursor, rather
// than reading the whole queue in one call; paging on finds every match.
func TestListBudgetBoundsAPage(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		var want []uuid.UUID
		for i := range 30 {
			name := "common"
			if i%10 == 0 {
				name = "rare"
			}
			id := enqueue(t, s, "q", name, 0)
			if name == "rare" {
				want = append(want, id)
			}
		}
		q := broker.ListQuery{Queues: []string{"q"}, Name: "rare", Limit: 5, Budget: 8}
		recs, next, err := s.b.List(s.ctx, q)
		if err != nil || len(recs) > 1 || next == "" {
			t.Errorf("List with a budget of 8 = %d records, cursor %q, %v; want at most one, and a cursor", len(recs), next, err)
		}
		if got := listAll(t, s, q); !slices.Equal(got, newestFirst(want)) {
			t.Errorf("paging on found %v, want %v", got, newestFirst(want))
		}
	})
}

func TestListRefusesForeignCursors(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		for range 3 {
			enqueue(t, s, "q", "x", 0)
		}
		_, next, err := s.b.List(s.ctx, broker.ListQuery{Queues: []string{"q"}, Limit: 1})
		if err != nil || next == "" {
			t.Fatalf("List = cursor %q, %v", next, err)
		}
		for _, q := range []broker.ListQuery{
			{Queues: []string{"q"}, Limit: 1, Cursor: "nope"},
			{Queues: []string{"q"}, Limit: 1, Cursor: next, Status: results.StatusFailed},
			{Queues: []string{"q"}, Limit: 1, Cursor: next[:len(next)-4]},
		} {
			if _, _, err := s.b.List(s.ctx, q); !errors.Is(err, broker.ErrBadCursor) {
				t.Errorf("List(cursor %q, status %q) = %v, want ErrBadCursor", q.Cursor, q.Status, err)
			}
		}
	})
}
