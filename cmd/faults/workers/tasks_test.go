package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/cmd/internal/proctest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// request builds a submission of name with payload encoded as JSON.
func request(t *testing.T, name string, payload any) tasks.Request {
	t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return tasks.Request{Name: name, Payload: raw}
}

// submit queues reqs, eight at a time, and returns their IDs in the order
// of reqs. Any refusal fails the test.
func (s *bundle) submit(t *testing.T, reqs []tasks.Request) []uuid.UUID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ids := make([]uuid.UUID, len(reqs))
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(reqs) && failed.Load() == nil; i = int(next.Add(1) - 1) {
				rec, err := s.client.Submit(ctx, reqs[i])
				if err != nil {
					err = fmt.Errorf("submit %s: %w", reqs[i].Name, err)
					failed.CompareAndSwap(nil, &err)
					return
				}
				ids[i] = rec.ID
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatal(*err)
	}
	return ids
}

// statuses reads the status of each task, in the order of ids; a task
// with no hash reads as "".
func (s *bundle) statuses(ctx context.Context, ids []uuid.UUID) ([]results.Status, error) {
	return proctest.Statuses(ctx, s.b, ids)
}

// records reads the record of each task; a task with no hash comes back
// with its ID and an empty status.
func (s *bundle) records(t *testing.T, ids []uuid.UUID) []results.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := make([]results.Record, 0, len(ids))
	for start := 0; start < len(ids); start += 1000 {
		chunk := ids[start:min(start+1000, len(ids))]
		recs, errs := s.b.GetMany(ctx, chunk)
		for i, err := range errs {
			switch {
			case errors.Is(err, results.ErrNotFound):
				recs[i] = results.Record{ID: chunk[i]}
			case err != nil:
				t.Fatalf("read the record of %s: %v", chunk[i], err)
			}
			out = append(out, recs[i])
		}
	}
	return out
}

// waitStatus polls the tasks every 100ms until each has a status that
// done accepts, and returns their records. At the timeout it fails the
// test with the count of each status still seen.
func (s *bundle) waitStatus(t *testing.T, ids []uuid.UUID, timeout time.Duration, what string, done func(results.Status) bool) []results.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	left := ids
	for {
		sts, err := s.statuses(ctx, left)
		if err == nil {
			var still []uuid.UUID
			for i, st := range sts {
				if !done(st) {
					still = append(still, left[i])
				}
			}
			left = still
		}
		if len(left) == 0 {
			return s.records(t, ids)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("after %s, %d of %d tasks are not %s: %s (last error %v)",
				timeout, len(left), len(ids), what, countStatuses(s.records(t, left)), err)
		}
	}
}

// waitTerminal waits up to timeout for every task to finish.
func (s *bundle) waitTerminal(t *testing.T, ids []uuid.UUID, timeout time.Duration) []results.Record {
	t.Helper()
	return s.waitStatus(t, ids, timeout, "terminal", results.Status.Terminal)
}

// countStatuses renders how many records have each status, such as
// "queued=3 running=1"; a missing record counts as "missing".
func countStatuses(recs []results.Record) string {
	n := make(map[string]int)
	for _, r := range recs {
		st := string(r.Status)
		if st == "" {
			st = "missing"
		}
		n[st]++
	}
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := ""
	for _, k := range keys {
		out += fmt.Sprintf("%s=%d ", k, n[k])
	}
	return out
}

// span returns the earliest start and the latest finish of recs, on the
// Redis clock; throughput is len(recs) over their difference.
func span(recs []results.Record) (first, last time.Time) {
	for _, r := range recs {
		if !r.StartedAt.IsZero() && (first.IsZero() || r.StartedAt.Before(first)) {
			first = r.StartedAt
		}
		if r.FinishedAt.After(last) {
			last = r.FinishedAt
		}
	}
	return first, last
}

// perSecond is n over d, or 0 for an empty d.
func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
