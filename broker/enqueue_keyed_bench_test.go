package broker_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
)

// BenchmarkEnqueueKeyed measures one caller's Enqueue of single tasks, one
// at a time: plain (enqueue.lua, group-committed), with a new idempotency
// key each (claim_keys.lua before enqueue.lua, one call), and a replay of
// a held key (two calls: the holder is named, then read). ns/op is per
// submission, one round trip or two.
func BenchmarkEnqueueKeyed(b *testing.B) {
	for _, be := range redistest.Backends(b) {
		br := broker.New(be.Client, be.Prefix)
		ctx := context.Background()
		task := func(key string) []broker.NewTask {
			t := broker.NewTask{Name: "echo", Queue: "q", Payload: []byte(`{"user":12345}`), MaxRetries: 3, Timeout: time.Minute, ResultTTL: time.Hour}
			if key != "" {
				t.Keys = []broker.KeyClaim{{Kind: broker.KeyIdempotency, Key: key, Digest: "d", TTL: time.Hour}}
			}
			return []broker.NewTask{t}
		}
		b.Run(be.Name+"/plain", func(b *testing.B) {
			for b.Loop() {
				if _, err := br.Enqueue(ctx, task("")); err != nil {
					b.Fatal(err)
				}
			}
		})
		// Each run of a sub-benchmark (-count, or a probe) keys its own tasks.
		salt := func() string { return strconv.FormatInt(time.Now().UnixNano(), 36) }
		b.Run(be.Name+"/new-key", func(b *testing.B) {
			run, i := salt(), 0
			for b.Loop() {
				i++
				if _, err := br.Enqueue(ctx, task(run+":"+strconv.Itoa(i))); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(be.Name+"/replay", func(b *testing.B) {
			run := salt()
			if _, err := br.Enqueue(ctx, task(run)); err != nil {
				b.Fatal(err)
			}
			var ce *broker.ConflictError
			for b.Loop() {
				if _, err := br.Enqueue(ctx, task(run)); !errors.As(err, &ce) {
					b.Fatal(err)
				}
			}
		})
	}
}
