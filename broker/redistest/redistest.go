// Package redistest gives tests the Redis servers to run against: an
// in-process miniredis always, and the real Redis at REDIS_URL when it is
// set. It owns test isolation (a key prefix per test, deleted at cleanup);
// it never flushes a database. It also shows tests the key layout that
// broker keeps to itself.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/internal/layout"
)

// Backend is one Redis server for a test.
type Backend struct {
	Name   string // "miniredis" or "redis"
	URL    string // redis:// URL of the server
	Client *redis.Client
	Prefix string               // a key prefix private to the test
	Keys   layout.Keys          // the key names under Prefix, for tests that look inside
	Mini   *miniredis.Miniredis // nil for a real Redis
}

// Layout returns the key names under prefix ("" means broker.DefaultPrefix),
// for tests that look inside a Redis that runq processes use.
func Layout(prefix string) layout.Keys {
	if prefix == "" {
		prefix = broker.DefaultPrefix
	}
	return layout.Keys{Prefix: prefix}
}

// IDText is a task ID as Redis holds it (layout.IDText), for tests that
// look inside or write a queue.
func IDText(id uuid.UUID) string { return layout.IDText(id) }

// ParseIDText reads an IDText back.
func ParseIDText(text string) (uuid.UUID, error) { return layout.ParseIDText(text) }

// StoredValue reads field (FieldPayload, FieldResult or FieldError) of the
// task hash key as the broker stored it, its parts joined when
// lua/spill.lua stored it in parts (layout.JoinParts).
func StoredValue(ctx context.Context, rdb redis.UniversalClient, key, field string) (string, error) {
	h, err := rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return "", err
	}
	v, ok := h[field]
	if !ok {
		return "", redis.Nil
	}
	return layout.JoinParts(h, field, v), nil
}

// Fields of a task's hash, for tests that look inside or write one.
const (
	FieldMeta    = layout.FieldMeta
	FieldStatus  = layout.FieldStatus
	FieldAttempt = layout.FieldAttempt
	FieldPayload = layout.FieldPayload
	FieldResult  = layout.FieldResult
)

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
	p := prefix()
	return Backend{Name: "miniredis", URL: "redis://" + mr.Addr(), Client: rdb, Prefix: p, Keys: layout.Keys{Prefix: p}, Mini: mr}
}

// Required reports whether tests must have a real Redis rather than skip
// what needs one: in CI (CI=true) or when RUNQ_REQUIRE_REDIS=1.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("RUNQ_REQUIRE_REDIS") == "1"
}

// Real returns the Redis at REDIS_URL with a private key prefix whose keys
// are deleted at cleanup; false when REDIS_URL is unset (a failure instead,
// when Required).
func Real(t testing.TB) (Backend, bool) {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	required := Required()
	if url == "" {
		if required {
			t.Fatal("REDIS_URL is not set, and CI=true or RUNQ_REQUIRE_REDIS=1 requires a real Redis (bash .ci/run starts one)")
		}
		return Backend{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rdb, err := broker.Open(ctx, url, 64)
	if err != nil {
		if required {
			t.Fatalf("the Redis at REDIS_URL does not answer, and CI=true or RUNQ_REQUIRE_REDIS=1 requires it: %v", err)
		}
		t.Logf("REDIS_URL set but unreachable, testing on miniredis only: %v", err)
		return Backend{}, false
	}
	p := prefix()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		DeleteAll(ctx, t, rdb, p)
		_ = rdb.Close()
	})
	return Backend{Name: "redis", URL: url, Client: rdb, Prefix: p, Keys: layout.Keys{Prefix: p}}, true
}

// DeleteAll deletes every key under prefix, a thousand UNLINKs per round
// trip (one key each, so a cluster client can route them), so that a
// benchmark's hundreds of thousands of tasks go in seconds.
func DeleteAll(ctx context.Context, t testing.TB, rdb redis.UniversalClient, prefix string) {
	t.Helper()
	all := KeysUnder(ctx, t, rdb, prefix)
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

// KeysUnder lists every key under prefix, by SCAN.
func KeysUnder(ctx context.Context, t testing.TB, rdb redis.UniversalClient, prefix string) []string {
	t.Helper()
	var out []string
	match := prefix + ":*"
	iter := rdb.Scan(ctx, 0, match, 500).Iterator()
	for iter.Next(ctx) {
		out = append(out, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN %s: %v", match, err)
	}
	return out
}

func prefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "runqtest-" + hex.EncodeToString(b[:])
}

// Fields of a task's hash that cancelling, progress and event streams
// write, for tests that look inside or write one.
const (
	FieldCancel   = layout.FieldCancel
	FieldProgress = layout.FieldProgress
	FieldWatched  = layout.FieldWatched
)
