package tasks

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/runq/runq/broker"
)

// MaxQueueWeight is the largest weight of a queue in PoolConfig.Weights.
const MaxQueueWeight = 1000

// claimOrder is the order in which each claim of a pool of several queues
// tries them: the claim takes from the first queue that has tasks.
//
// In strict order (no weights) it is PoolConfig.Queues for every claim,
// so a queue is reached only when every queue before it is empty: while
// an earlier queue has work, a later one starves.
//
// Weighted, each claim draws its order at random: the first queue is q
// with probability weight(q)/ΣW, the next is drawn from the rest likewise,
// and so on (weighted sampling without replacement: the Plackett-Luce
// model). Whatever subset of the queues holds tasks, the first of them in
// the order is q with probability weight(q) over the sum of their weights,
// so an empty queue does not shift the others' shares, and no queue with
// work starves. The weights share claims, and so tasks, not handler time.
//
// A claim for n free handlers takes what it can from the first queue of
// its order and only what that queue lacks from the next (Pool.claim).
// Shares stay exact in expectation, since n does not depend on the draw;
// over a short span they vary more than one task per claim would. Split
// by weight instead, a batch costs a take per queue: draining three full
// queues weighted 6:3:1 at concurrency 50 took 0.42-0.44 round trips per
// task instead of 0.18-0.21, 22-32 µs of Redis CPU instead of 13-19, and
// ran at 12-20k tasks/s instead of 15-35k (on a shared machine), and its
// rounding shorted the lightest queue (8.4-8.5% of the tasks instead of
// 10.2-10.6%). See cmd/runq/BENCHMARKS.md.
type claimOrder struct {
	queues  []string
	weights []int           // weights[i] is queues[i]'s; nil in strict order
	total   int             // the sum of weights
	intN    func(n int) int // uniform in [0, n); rand.IntN, or a seeded source in tests
}

// newClaimOrder returns the order of queues, weighted by weights unless
// that is empty.
func newClaimOrder(queues []string, weights map[string]int) claimOrder {
	o := claimOrder{queues: queues, intN: rand.IntN}
	if len(weights) == 0 {
		return o
	}
	o.weights = make([]int, len(queues))
	for i, q := range queues {
		o.weights[i] = weights[q]
		o.total += weights[q]
	}
	return o
}

// drawBuf is one claim loop's room to draw weighted orders in: a draw
// allocates nothing, and the loops of a pool draw at once without a lock.
type drawBuf struct {
	queues  []string
	weights []int
}

// next returns the queues in the order the next claim tries them. In
// strict order that is o.queues itself, which the caller must not change;
// a weighted order is drawn into buf, and is valid until the next draw.
// It costs len(queues)-1 random numbers.
func (o *claimOrder) next(buf *drawBuf) []string {
	if o.weights == nil {
		return o.queues
	}
	q := append(buf.queues[:0], o.queues...)
	w := append(buf.weights[:0], o.weights...)
	buf.queues, buf.weights = q, w
	left := o.total
	for i := 0; i < len(q)-1; i++ {
		r, j := o.intN(left), i
		for r >= w[j] {
			r -= w[j]
			j++
		}
		q[i], q[j] = q[j], q[i]
		w[i], w[j] = w[j], w[i]
		left -= w[i]
	}
	return q
}

// weightedQueues returns the queues of weights, heaviest first, then by
// name: the Queues of a PoolConfig that gives only Weights.
func weightedQueues(weights map[string]int) []string {
	return slices.SortedFunc(maps.Keys(weights), func(a, b string) int {
		return cmp.Or(cmp.Compare(weights[b], weights[a]), cmp.Compare(a, b))
	})
}

// checkQueues reports the first queue or weight of c (after withDefaults)
// that Run refuses: a bad name, a queue listed twice, or, when weighted,
// a weight out of 1 to MaxQueueWeight, a queue of Queues without a weight,
// or a weight of a queue that Queues leaves out.
func (c PoolConfig) checkQueues() error {
	seen := make(map[string]bool, len(c.Queues))
	for _, q := range c.Queues {
		if err := broker.ValidQueue(q); err != nil {
			return err
		}
		if seen[q] {
			return fmt.Errorf("tasks: PoolConfig.Queues lists %q twice", q)
		}
		seen[q] = true
		if len(c.Weights) == 0 {
			continue
		}
		w, ok := c.Weights[q]
		switch {
		case !ok:
			return fmt.Errorf("tasks: queue %q has no weight: give every queue of PoolConfig.Queues a weight, or none", q)
		case w < 1 || w > MaxQueueWeight:
			return fmt.Errorf("tasks: weight %d of queue %q: want 1 to %d", w, q, MaxQueueWeight)
		}
	}
	for q := range c.Weights {
		if !seen[q] {
			return fmt.Errorf("tasks: PoolConfig.Weights weighs queue %q, which PoolConfig.Queues leaves out", q)
		}
	}
	return nil
}
