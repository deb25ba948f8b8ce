package tasks

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/runq/runq/broker"
)

// ClientConfig configures a Client. A zero field is unset and takes runq's
// default.
type ClientConfig struct {
	// Queue is where tasks that name no queue go; "" means "default".
	Queue string
	// MaxRetries applies to tasks whose submission and handler set none;
	// 0 means 3, NoRetries none.
	MaxRetries int
	// Timeout bounds each attempt of tasks whose submission and handler
	// set none; 0 means 30m.
	Timeout time.Duration
	// ResultTTL is how long a finished task is kept, unless its submission
	// says; 0 means 24h.
	ResultTTL time.Duration
	// Prefix starts every Redis key; "" means "runq". The clients and
	// workers of one runq system share it.
	Prefix string
	// Logger receives what Wait's subscription has to report (a lost
	// connection); nil means slog.Default().
	Logger *slog.Logger
	// IdempotencyTTL is how long an idempotency key is remembered after
	// the submission that first used it (Request.IdempotencyKey); 0 means
	// 24h.
	IdempotencyTTL time.Duration
	// WebhookAllowPrivate accepts a callback URL whose host is a
	// loopback, private, link-local or other internal address (or
	// localhost); by default such a URL is refused (ErrInvalid), against
	// server-side request forgery. Workers check the address they dial
	// too (PoolConfig.WebhookAllowPrivate).
	WebhookAllowPrivate bool
}

// Defaults of ClientConfig.
const (
	DefaultQueue      = "default"
	DefaultMaxRetries = 3
	DefaultTimeout    = 30 * time.Minute
	DefaultResultTTL  = 24 * time.Hour
	// DefaultIdempotencyTTL is ClientConfig.IdempotencyTTL's default.
	DefaultIdempotencyTTL = 24 * time.Hour
)

func (c ClientConfig) withDefaults() ClientConfig {
	if c.Queue == "" {
		c.Queue = DefaultQueue
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ResultTTL == 0 {
		c.ResultTTL = DefaultResultTTL
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.IdempotencyTTL == 0 {
		c.IdempotencyTTL = DefaultIdempotencyTTL
	}
	return c
}

// check reports a configuration no task could be submitted with; its
// error wraps ErrInvalid. c has its defaults.
func (c ClientConfig) check() error {
	if err := broker.ValidQueue(c.Queue); err != nil {
		return fmt.Errorf("%w: ClientConfig.Queue: %v", ErrInvalid, err)
	}
	if c.Prefix != "" {
		if err := broker.ValidPrefix(c.Prefix); err != nil {
			return fmt.Errorf("%w: ClientConfig.Prefix: %v", ErrInvalid, err)
		}
	}
	if ttl := c.IdempotencyTTL; ttl < time.Second || ttl > MaxResultTTL {
		return fmt.Errorf("%w: ClientConfig.IdempotencyTTL %s: must be %s to %s", ErrInvalid, ttl, time.Second, MaxResultTTL)
	}
	r := Request{Name: "x", Options: Options{MaxRetries: c.MaxRetries, Timeout: c.Timeout, ResultTTL: c.ResultTTL}}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("ClientConfig: %w", err)
	}
	return nil
}
