package api_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
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
//
// Goroutines are counted by a pprof label the server's goroutines inherit
// (the listener's, so every connection's and whatever its handlers start),
// because the process-wide count also holds the goroutines of tests running
// beside this one.
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
	var srv *httptest.Server
	pprof.Do(context.Background(), pprof.Labels(costLabel, t.Name()), func(context.Context) {
		srv = s.server(t)
	})
	ids := make([]string, n)
	for i := range ids {
		ids[i] = s.submit(t, `{"name":"count","queue":"streams"}`).ID // no worker: queued
	}
	clientsBefore := be.Client.PoolStats().TotalConns
	gBefore, heapBefore := settle(t)
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
	gOpen, heapOpen := settle(t)
	clientsOpen := be.Client.PoolStats().TotalConns
	perG := float64(gOpen-gBefore) / float64(n)
	perHeap := float64(heapOpen-heapBefore) / float64(n)
	t.Logf("%d streams: %.2f goroutines, %.1f KiB heap per stream (%d goroutines, %.1f MiB in all); the Redis client's connections %d -> %d (pool size %d; one is the subscription); INFO connected_clients (every test on this Redis) %d",
		n, perG, perHeap/1024, gOpen-gBefore, float64(heapOpen-heapBefore)/(1<<20), clientsBefore, clientsOpen,
		be.Client.Options().PoolSize, redisClients(t, be))
	// net/http's two per connection (serve and its background read), plus a
	// fixed few shared by all streams (the event subscription).
	if most := 2*n + 4; gOpen-gBefore > most {
		t.Errorf("%d goroutines for %d streams, want at most %d (the connections' own and a shared few)", gOpen-gBefore, n, most)
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

// costLabel is the pprof label key that marks the measured server's goroutines.
const costLabel = "runq_events_cost"

// settle collects garbage and returns the goroutines labelled with t's name
// under costLabel and the process's heap in use.
func settle(t *testing.T) (goroutines int, heap uint64) {
	t.Helper()
	time.Sleep(200 * time.Millisecond)
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return labelled(t, costLabel, t.Name()), m.HeapInuse
}

// labelled counts the goroutines carrying the pprof label key=value, read
// from the goroutine profile's text form: each stack group opens with
// "<count> @ <pcs>" and, when its goroutines have labels, a "# labels: {...}"
// line follows.
func labelled(t *testing.T, key, value string) int {
	t.Helper()
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%q:%q", key, value)
	n, group := 0, 0
	for _, l := range strings.Split(buf.String(), "\n") {
		if c, _, ok := strings.Cut(l, " @ "); ok {
			group, _ = strconv.Atoi(c)
		} else if strings.HasPrefix(l, "# labels: ") && strings.Contains(l, want) {
			n += group
		}
	}
	return n
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
