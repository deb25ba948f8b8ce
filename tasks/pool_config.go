package tasks

import (
	"log/slog"
	"maps"
	"slices"
	"time"
)

// PoolConfig configures a worker Pool. Zero values are the documented
// defaults.
type PoolConfig struct {
	// Queues are the queues to consume. Without Weights they are taken in
	// strict order: a task of an earlier queue always goes first, so a
	// later queue waits (starves) while an earlier one has tasks. Nil means
	// ["default"], or with Weights the queues it weighs, heaviest first.
	Queues []string
	// Weights, when set, takes the queues in weighted order instead: each
	// claim tries them in an order drawn at random by weight, so among the
	// queues that have tasks, queue q is claimed from with probability
	// Weights[q] over the sum of their weights, and none starves. A claim
	// for n free handlers takes up to n tasks from the first queue of its
	// order that has any, then the rest from the next, so the shares hold
	// over many claims, not within one. Its keys are the queues; Queues,
	// when also set, must list exactly them (its order is then how the
	// worker lists them). Each weight is 1 to MaxQueueWeight; Run refuses
	// others. Nil or empty means strict order.
	Weights map[string]int
	// Concurrency is how many handlers run at once; 0 means 10.
	Concurrency int
	// Grace is how long shutdown waits for running handlers before it
	// cancels them and hands their tasks back; 0 means 30s.
	Grace time.Duration
	// VisibilityTimeout is the lease: a task whose worker stops renewing it
	// for this long is handed to another worker; 0 means 30s.
	VisibilityTimeout time.Duration
	// MaxCrashes is how many times a task whose worker was lost mid-attempt
	// is redelivered before it fails as poison; 0 means 3, -1 no limit.
	MaxCrashes int
	// Backoff returns the wait before retry n (1 for the first retry);
	// nil means ExponentialBackoff(time.Second, time.Hour).
	Backoff func(n int) time.Duration
	// Prefix starts every Redis key; "" means "runq". The clients and
	// workers of one runq system share it.
	Prefix string
	// Logger receives the pool's logs; nil means slog.Default().
	Logger *slog.Logger
	// Observer is told of every attempt's start and end, for metrics; nil
	// means none.
	Observer Observer
	// FailedTTL is how long the record of a task this pool fails (out of
	// retries, ErrSkipRetry, or poison after MaxCrashes) is kept, to be
	// listed, retried or purged as a dead letter: the longer of FailedTTL
	// and the task's own ResultTTL. 0 means DefaultFailedTTL.
	FailedTTL time.Duration
	// WebhookSecret signs the webhooks this pool delivers for its queues'
	// tasks (see VerifyWebhook); "" sends them unsigned, without the
	// Runq-Signature header, and logs a warning once.
	WebhookSecret string
	// WebhookAllowPrivate lets webhooks reach loopback, private and other
	// internal addresses, which are refused by default (checked on the
	// address a callback URL's host resolves to, at each connection).
	WebhookAllowPrivate bool
	// WebhookConcurrency is how many webhooks the pool sends at once,
	// beside its handlers, never in their slots; 0 means 16.
	WebhookConcurrency int
	// BatchWait trades latency for cost when tasks arrive one at a time:
	// when a task arrives within BatchWait of the pool finding its queues
	// empty, the pool waits BatchWait before it claims, so that one claim
	// takes every task that arrived meanwhile, and their outcomes, ending
	// together, go out in fewer writes. Each such task starts up to
	// BatchWait later. A task that ends a longer quiet, and tasks the pool
	// finds waiting, are claimed at once. It pays where tasks come well
	// under BatchWait apart (at 1,000 tasks/s, 5 ms halves the worker's
	// CPU per task). 0 (or less) means claim at once.
	BatchWait time.Duration
}

// DefaultFailedTTL is PoolConfig.FailedTTL's default.
const DefaultFailedTTL = 7 * 24 * time.Hour

func (c PoolConfig) withDefaults() PoolConfig {
	switch {
	case len(c.Weights) == 0:
		c.Weights = nil
	case len(c.Queues) == 0:
		c.Queues = weightedQueues(c.Weights)
	}
	if len(c.Queues) == 0 {
		c.Queues = []string{DefaultQueue}
	}
	c.Queues = slices.Clone(c.Queues) // the caller may reuse its own
	c.Weights = maps.Clone(c.Weights)
	if c.Concurrency <= 0 {
		c.Concurrency = 10
	}
	if c.Grace <= 0 {
		c.Grace = 30 * time.Second
	}
	if c.VisibilityTimeout <= 0 {
		c.VisibilityTimeout = 30 * time.Second
	}
	if c.MaxCrashes == 0 {
		c.MaxCrashes = 3
	}
	if c.Backoff == nil {
		c.Backoff = ExponentialBackoff(time.Second, time.Hour)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.FailedTTL <= 0 {
		c.FailedTTL = DefaultFailedTTL
	}
	if c.WebhookConcurrency <= 0 {
		c.WebhookConcurrency = 16
	}
	c.BatchWait = max(c.BatchWait, 0)
	return c
}
