package broker_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/internal/layout"
	"github.com/runq/runq/broker/redistest"
)

// createdField returns the created field of task id created at ms (Unix
// time): what the scripts write (see layout.FieldCreated).
func createdField(id uuid.UUID, ms int64) string {
	return strconv.FormatInt(ms-layout.IDMillis(id), 10)
}

// createdProbe runs lua/created.lua's functions: for each ID in ARGV, its
// id_ms, its ct_of at the given now, and created_of that field back.
var createdProbe = redis.NewScript(broker.CreatedSrc + `
local now = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV do
  local ct = ct_of(ARGV[i], now)
  out[#out + 1] = id_ms(ARGV[i])
  out[#out + 1] = ct
  out[#out + 1] = created_of(ARGV[i], ct)
end
return out`)

// TestCreatedFieldIsSmallAndExact checks, on both backends, that the Lua
// scripts read an ID's time as layout.IDMillis does (every digit, the
// smallest and largest IDs, and IDs that share their first digits, which
// ct_of reuses its field for), that a created field reads back the exact
// Redis-clock time, and that a task Enqueue creates stores a field of a
// few bytes that Get reads as a time between the calls around it.
func TestCreatedFieldIsSmallAndExact(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(7, 13))
	var ids []uuid.UUID
	ids = append(ids, uuid.UUID{}, uuid.Max)
	for range 64 {
		var id uuid.UUID
		for i := range id {
			id[i] = byte(rnd.UintN(256))
		}
		ids = append(ids, id)
	}
	fresh, err := layout.NewID("q")
	if err != nil {
		t.Fatal(err)
	}
	sibling := fresh
	sibling[15] ^= 0xff // the same time and first digits, another ID
	ids = append(ids, fresh, sibling)
	const now = int64(1_800_000_000_123)
	args := []any{now}
	for _, id := range ids {
		args = append(args, layout.IDText(id))
	}
	for _, be := range redistest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			ctx := context.Background()
			got, err := createdProbe.Run(ctx, be.Client, nil, args...).Slice()
			if err != nil || len(got) != 3*len(ids) {
				t.Fatalf("probe = %d values, %v; want %d", len(got), err, 3*len(ids))
			}
			for i, id := range ids {
				ms, ct, back := got[3*i], got[3*i+1], got[3*i+2]
				if ms != layout.IDMillis(id) || ct != createdField(id, now) || back != now {
					t.Errorf("ID %s: id_ms %v, ct_of %v, created_of %v; want %d, %s, %d",
						id, ms, ct, back, layout.IDMillis(id), createdField(id, now), now)
				}
			}

			b := broker.New(be.Client, be.Prefix)
			before := time.Now().Add(-time.Second) // miniredis and Redis read this machine's clock
			ts := []broker.NewTask{{Name: "n", Queue: "q", Payload: []byte("1")}}
			created, err := b.Enqueue(ctx, ts)
			if err != nil {
				t.Fatal(err)
			}
			after := time.Now().Add(time.Second)
			id := ts[0].ID
			raw, err := be.Client.HGet(ctx, b.TaskKey(id), layout.FieldCreated).Result()
			if err != nil || len(raw) > 4 {
				t.Fatalf("created field %q, %v; want a few ms", raw, err)
			}
			rec, err := b.Get(ctx, id)
			if err != nil || !rec.CreatedAt.Equal(created[0]) || rec.CreatedAt.Before(before) || rec.CreatedAt.After(after) {
				t.Fatalf("Get: created %v, %v; want %v, between %v and %v", rec.CreatedAt, err, created[0], before, after)
			}
		})
	}
}
