package broker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/runq/runq/broker"
)

// TestOpen opens the embedded Redis, whose Lua must keep a millisecond
// time whole in string.format('%d'), as the scripts rely on (a real Redis
// passes the same check whenever REDIS_URL is set: redistest opens it with
// Open). A URL that does not parse is ErrBadURL and names no password.
func TestOpen(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := broker.StartEmbedded("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rdb, err := broker.Open(ctx, e.URL(), 0)
	if err != nil {
		t.Fatalf("Open(embedded) = %v", err)
	}
	_ = rdb.Close()
	_, err = broker.Open(ctx, "redis://user:secret@127.0.0.1:6379/x", 0)
	if !errors.Is(err, broker.ErrBadURL) || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open(bad db) = %v, want ErrBadURL without the password", err)
	}
}
