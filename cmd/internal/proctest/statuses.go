package proctest

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

// Statuses reads the status of each task in ids through b, in one
// pipeline per 1,000, in the order of ids; a task with no record reads as
// "".
func Statuses(ctx context.Context, b *broker.Broker, ids []uuid.UUID) ([]results.Status, error) {
	out := make([]results.Status, 0, len(ids))
	for start := 0; start < len(ids); start += 1000 {
		recs, errs := b.GetMany(ctx, ids[start:min(start+1000, len(ids))])
		for i, err := range errs {
			switch {
			case errors.Is(err, results.ErrNotFound):
				out = append(out, "")
			case err != nil:
				return nil, err
			default:
				out = append(out, recs[i].Status)
			}
		}
	}
	return out, nil
}
