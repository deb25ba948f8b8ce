package api_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/runq/runq/broker/redistest"
)

// TestTaskEventsCost opens many event streams at once, each on its own
// TCP connection, and measures what they cost the server: goroutines, heap
// and Redis connections per stream; then cancels the tasks and checks that
// every stream ends with its end event. 100 streams, or 1,000 with
// RUNQ_LONG=1 (the figure the README gives).
func TestTaskEventsCost(t *testing.T) {
	t.Parallel()
	n := 100
	if os.Getenv("RUNQ_LONG") == "1" {
		n = 1000
	}
	be, ok := redistest.Real(t)
	if !ok {
		t.Skip("needs a real Redis (REDIS_URL)")
	}
	s := setupIdle(t, be)
	srv := s.server(t)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = s.submit(t, `{"name":"count","queue":"streams"}`).ID // no worker: queued
	}
	clientsBefore := be.Client.PoolStats().TotalConns
	gBefore, heapBefore := settle()
	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	addr := strings.TrimPrefix(srv.URL, "http://")
	for i, id := range ids {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		fmt.Fprintf(conn, "GET /v1/tasks/%s/events HTTP/1.1\r\nHost: x\r\n\r\n", id)
		conns[i], readers[i] = conn, bufio.NewReaderSize(conn, 512)
	}
	for i, r := range readers { // every stream has sent its first event
		_ = conns[i].SetReadDeadline(time.Now().Add(deadline))
		if !readUntil(r, "event: status") {
			t.Fatalf("stream %d: no first status event", i)
		}
	}
	gOpen, heapOpen := settle()
	clientsOpen := be.Client.PoolStats().TotalConns
	perG := float64(gOpen-gBefore) / float64(n)
	perHeap := float64(heapOpen-heapBefore) / float64(n)
	t.Logf("%d streams: %.2f goroutines, %.1f KiB heap per stream (%d goroutines, %.1f MiB in all); the Redis client's connections %d -> %d (pool size %d; one is the subscription); INFO connected_clients (every test on this Redis) %d",
		n, perG, perHeap/1024, gOpen-gBefore, float64(heapOpen-heapBefore)/(1<<20), clientsBefore, clientsOpen,
		be.Client.Options().PoolSize, redisClients(t, be))
	if perG > 3 {
		t.Errorf("%.2f goroutines per stream, want at most 3 (the connection's own)", perG)
	}
	if most := uint32(be.Client.Options().PoolSize + 1); clientsOpen > most {
		t.Errorf("the Redis client holds %d connections for %d streams, want at most its pool and the subscription (%d)", clientsOpen, n, most)
	}
	for _, id := range ids {
		if rec := s.cancel(id); rec.Code != http.StatusOK {
			t.Fatalf("DELETE %s = %d", id, rec.Code)
		}
	}
	began := time.Now()
	for i, r := range readers {
		if !readUntil(r, "event: end") {
			t.Fatalf("stream %d: no end event after its task was canceled", i)
		}
	}
	t.Logf("every stream got its end event %v after the last cancel", time.Since(began))
}

// readUntil reads lines from r until one is line; false on an error.
func readUntil(r *bufio.Reader, line string) bool {
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return false
		}
		if strings.TrimRight(l, "\r\n") == line {
			return true
		}
	}
}

// settle collects garbage and returns the goroutines and heap in use.
func settle() (goroutines int, heap uint64) {
	time.Sleep(200 * time.Millisecond)
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m.HeapInuse
}

// redisClients returns INFO's connected_clients.
func redisClients(t *testing.T, be redistest.Backend) int {
	t.Helper()
	info, err := be.Client.Info(context.Background(), "clients").Result()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "connected_clients:"); ok {
			_, _ = fmt.Sscan(v, &n)
		}
	}
	return n
}
