package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// TestTakeIsIdempotent resends take.lua with the same token, as go-redis
// does after a dropped connection: the same IDs come back and no second
// batch is leased.
func TestTakeIsIdempotent(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	b := New(rdb, Keys{Prefix: "t"})
	for i := range 4 {
		id, _ := NewID("q")
		if _, err := b.Enqueue(ctx, NewTask{ID: id, Name: fmt.Sprint("n", i), Queue: "q", Payload: []byte("1")}); err != nil {
			t.Fatal(err)
		}
	}
	keys := []string{b.keys.Pending("q"), b.keys.Leases("q"), b.keys.Owners("q"), b.keys.Receipt("q", "tok")}
	first, err := takeScript.Run(ctx, rdb, keys, 2, ms(time.Minute), "tok").StringSlice()
	if err != nil || len(first) != 2 {
		t.Fatalf("take = %v, %v; want 2 IDs", first, err)
	}
	again, err := takeScript.Run(ctx, rdb, keys, 2, ms(time.Minute), "tok").StringSlice()
	if err != nil || fmt.Sprint(again) != fmt.Sprint(first) {
		t.Fatalf("resent take = %v, %v; want the same %v", again, err, first)
	}
	if n := rdb.ZCard(ctx, b.keys.Leases("q")).Val(); n != 2 {
		t.Fatalf("leases after a resent take = %d, want 2", n)
	}
	claimed, err := b.start(ctx, "q", "tok", first)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("start = %d, %v; want 2", len(claimed), err)
	}
	if rdb.Exists(ctx, b.keys.Receipt("q", "tok")).Val() != 0 {
		t.Error("receipt still exists after start")
	}
	resent, err := b.start(ctx, "q", "tok", first)
	if err != nil || len(resent) != 2 || resent[0].Attempts != 1 {
		t.Errorf("resent start = %+v, %v; want the same 2 tasks at attempt 1", resent, err)
	}
}
