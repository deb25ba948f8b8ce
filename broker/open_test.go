package broker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker/embedded"
)

// TestOpen opens the embedded Redis, whose Lua must keep a millisecond
// time whole in string.format('%d'), as the scripts rely on (a real Redis
// passes the same check whenever REDIS_URL is set: redistest opens it with
// Open). A URL that does not parse is ErrBadURL and names no password.
func TestOpen(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := embedded.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rdb, err := Open(ctx, e.URL(), 0)
	if err != nil {
		t.Fatalf("Open(embedded) = %v", err)
	}
	_ = rdb.Close()
	_, err = Open(ctx, "redis://user:secret@127.0.0.1:6379/x", 0)
	if !errors.Is(err, ErrBadURL) || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open(bad db) = %v, want ErrBadURL without the password", err)
	}
}

// TestCheckRedisRefuses32Bits answers checkRedis's Lua as a 32-bit Redis
// might (string.format('%d', 2^40) does not fit a 32-bit long; "0" here):
// the Redis is refused with errRedis32, and a Broker on it writes nothing.
func TestCheckRedisRefuses32Bits(t *testing.T) {
	t.Parallel()
	e, err := embedded.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rdb := redis.NewClient(&redis.Options{Addr: e.Addr()})
	defer rdb.Close()
	rdb.AddHook(as32Bits{})
	err = checkRedis(context.Background(), rdb)
	if !errors.Is(err, errRedis32) || !strings.Contains(err.Error(), `"0"`) {
		t.Errorf("checkRedis on a 32-bit Redis = %v, want errRedis32 naming what it got", err)
	}
	b := New(rdb, "t")
	if _, err := b.Enqueue(context.Background(), []NewTask{{Name: "x", Queue: "q", Payload: []byte("1")}}); !errors.Is(err, errRedis32) {
		t.Errorf("Enqueue on a 32-bit Redis = %v, want errRedis32", err)
	}
	if err := b.RegisterHandlers(context.Background(), map[string]string{"x": "{}"}); !errors.Is(err, errRedis32) {
		t.Errorf("RegisterHandlers on a 32-bit Redis = %v, want errRedis32", err)
	}
	if n := rdb.DBSize(context.Background()).Val(); n != 0 {
		t.Errorf("%d keys written on a 32-bit Redis, want none", n)
	}
}

// as32Bits rewrites the reply to any EVAL to what a 32-bit Lua formats.
type as32Bits struct{}

func (as32Bits) DialHook(next redis.DialHook) redis.DialHook { return next }
func (as32Bits) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (as32Bits) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if c, ok := cmd.(*redis.Cmd); ok && err == nil && strings.EqualFold(cmd.Name(), "eval") {
			c.SetVal("0")
		}
		return err
	}
}
