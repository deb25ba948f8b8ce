// Package redistest gives tests the Redis servers to run against: an
// in-process miniredis always, and the real Redis at REDIS_URL when it is
// set. It owns test isolation (a key prefix per test, deleted at cleanup);
// it never flushes a database.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
)

// Backend is one Redis server for a test.
type Backend struct {
	Name   string // "miniredis" or "redis"
	URL    string // redis:// URL of the server
	Client *redis.Client
	Keys   broker.Keys          // a prefix private to the test
	Mini   *miniredis.Miniredis // nil for a real Redis
}

// Backends returns a miniredis backend, plus a real Redis one when REDIS_URL
// is set. With RUNQ_REQUIRE_REDIS=1, a missing or unreachable real Redis
// fails the test rather than leaving it to miniredis alone.
func Backends(t testing.TB) []Backend {
	t.Helper()
	out := []Backend{Mini(t)}
	if b, ok := Real(t); ok {
		out = append(out, b)
	}
	return out
}

// Mini returns a fresh miniredis backend, closed at cleanup.
func Mini(t testing.TB) Backend {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true, PoolSize: 64})
	t.Cleanup(func() { _ = rdb.Close() })
	return Backend{Name: "miniredis", URL: "redis://" + mr.Addr(), Client: rdb, Keys: broker.Keys{Prefix: prefix()}, Mini: mr}
}

// Real returns the Redis at REDIS_URL with a private key prefix whose keys
// are deleted at cleanup; false when REDIS_URL is unset (a failure instead,
// when RUNQ_REQUIRE_REDIS=1).
func Real(t testing.TB) (Backend, bool) {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	required := os.Getenv("RUNQ_REQUIRE_REDIS") == "1"
	if url == "" {
		if required {
			t.Fatal("RUNQ_REQUIRE_REDIS=1 but REDIS_URL is not set")
		}
		return Backend{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rdb, err := broker.Open(ctx, url, 64)
	if err != nil {
		if required {
			t.Fatalf("RUNQ_REQUIRE_REDIS=1 and the Redis at REDIS_URL does not answer: %v", err)
		}
		t.Logf("REDIS_URL set but unreachable, testing on miniredis only: %v", err)
		return Backend{}, false
	}
	keys := broker.Keys{Prefix: prefix()}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		DeleteAll(ctx, t, rdb, keys)
		_ = rdb.Close()
	})
	return Backend{Name: "redis", URL: url, Client: rdb, Keys: keys}, true
}

// DeleteAll deletes every key under keys' prefix, a thousand UNLINKs per
// round trip (one key each, so a cluster client can route them), so that a
// benchmark's hundreds of thousands of tasks go in seconds.
func DeleteAll(ctx context.Context, t testing.TB, rdb redis.UniversalClient, keys broker.Keys) {
	t.Helper()
	all := KeysUnder(ctx, t, rdb, keys)
	for len(all) > 0 {
		batch := all[:min(len(all), 1000)]
		all = all[len(batch):]
		_, err := rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for _, k := range batch {
				pipe.Unlink(ctx, k)
			}
			return nil
		})
		if err != nil { // the first failed command's error
			t.Errorf("cleanup: UNLINK %d keys: %v", len(batch), err)
			return
		}
	}
}

// KeysUnder lists every key under keys' prefix, by SCAN.
func KeysUnder(ctx context.Context, t testing.TB, rdb redis.UniversalClient, keys broker.Keys) []string {
	t.Helper()
	var out []string
	iter := rdb.Scan(ctx, 0, keys.MatchAll(), 500).Iterator()
	for iter.Next(ctx) {
		out = append(out, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN %s: %v", keys.MatchAll(), err)
	}
	return out
}

func prefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "runqtest-" + hex.EncodeToString(b[:])
}
