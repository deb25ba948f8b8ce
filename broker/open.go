package broker

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/redis/go-redis/v9"
)

// ErrBadURL reports a Redis URL that cannot be parsed.
var ErrBadURL = errors.New("broker: invalid redis url")

// errRedis32 reports a Redis whose Lua formats integers in 32 bits (a
// 32-bit build): the scripts write millisecond times with '%d', which
// would overflow there.
var errRedis32 = errors.New("broker: Redis formats integers in 32 bits in Lua (a 32-bit build?); runq needs a 64-bit Redis")

// Open connects to the Redis at rawURL (redis://, rediss:// for TLS, or
// unix://), with room for poolSize connections (0 means go-redis's default),
// and checks that it answers. Context deadlines apply to socket reads and
// writes (ContextTimeoutEnabled), so no call outlives its context. Errors
// name the address, never the password.
func Open(ctx context.Context, rawURL string, poolSize int) (*redis.Client, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w %q", ErrBadURL, Redact(rawURL))
	}
	opts.ContextTimeoutEnabled = true
	if opts.DialerRetries == 0 {
		// go-redis dials 5 times per attempt by default, on top of its 3
		// command retries: seconds before a call fails while Redis is
		// down. One dial per attempt keeps a 503 prompt; the command
		// retries still ride out a dropped connection.
		opts.DialerRetries = 1
	}
	if poolSize > 0 {
		opts.PoolSize = poolSize
	}
	rdb := redis.NewClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("broker: connect to %s: %w", opts.Addr, err)
	}
	if err := checkRedis(ctx, rdb); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("%w (%s)", err, opts.Addr)
	}
	return rdb, nil
}

// checkRedis checks what runq's scripts need of a Redis that the broker
// cannot tell from its version: that Lua's string.format('%d') keeps a
// millisecond time whole (it is 2.3 times cheaper than tostring, which
// formats a float, so the scripts use it). A Redis that fails it is
// errRedis32. Open calls it, and a Broker (check) before the first write a
// client makes (an enqueue or a cancel) and before a pool registers its
// handler names, which it does before it takes, starts or finishes a task.
func checkRedis(ctx context.Context, rdb redis.UniversalClient) error {
	const want = "1099511627776" // 2^40
	got, err := rdb.Eval(ctx, "return string.format('%d', 2^40)", nil).Text()
	if err != nil {
		return fmt.Errorf("broker: check Lua: %w", err)
	}
	if got != want {
		return fmt.Errorf("%w: string.format('%%d', 2^40) = %q, want %s", errRedis32, got, want)
	}
	return nil
}

// check runs checkRedis once per Broker, until it passes: the broker may
// have been given a client that did not come from Open.
func (b *Broker) check(ctx context.Context) error {
	if b.checked.Load() {
		return nil
	}
	if err := checkRedis(ctx, b.rdb); err != nil {
		return err
	}
	b.checked.Store(true)
	return nil
}

// Redact returns rawURL with any password replaced by "xxxxx", for logs.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}
