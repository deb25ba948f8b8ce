package api_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The tests of submissions waiting for room talk raw HTTP/1.1 over TCP, as
// those of parked long polls do: a parked answer is written on the
// hijacked connection.

// bound sets queue's max_length through the API.
func (s *bundle) bound(t *testing.T, queue string, n int) {
	t.Helper()
	rec := serve(s.app, newRequest(http.MethodPut, "/v1/queues/"+queue, "application/json", fmt.Sprintf(`{"max_length": %d}`, n)))
	if rec.Code != http.StatusOK {
		t.Fatalf("PUT /v1/queues/%s max_length %d = %d %s", queue, n, rec.Code, rec.Body)
	}
}

// hijackCounting serves s.app, counting the connections it hijacked:
// each parked request is one.
func (s *bundle) hijackCounting(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hijacked atomic.Int64
	srv := httptest.NewUnstartedServer(s.app)
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateHijacked {
			hijacked.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &hijacked
}

// dialPost opens a connection to srv and sends POST target with body.
func dialPost(t *testing.T, srv *httptest.Server, target, body string) net.Conn {
	t.Helper()
	conn := dial(t, srv)
	if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: runq\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		target, len(body), body); err != nil {
		t.Fatalf("send POST %s: %v", target, err)
	}
	return conn
}

// TestSubmitNoOvershoot races 50 submitters at a queue with max_length 10
// and no worker: exactly 10 get 202, 40 get 429 with Retry-After, and the
// queue holds 10.
func TestSubmitNoOvershoot(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		s.bound(t, "bounded", 10)
		codes := make(chan *httptest.ResponseRecorder, 50)
		start := make(chan struct{})
		for i := range 50 {
			go func() {
				req := newRequest(http.MethodPost, "/v1/tasks", "application/json", fmt.Sprintf(`{"name":"echo","queue":"bounded","payload":%d}`, i))
				<-start
				codes <- serve(s.app, req)
			}()
		}
		close(start)
		count := map[int]int{}
		for range 50 {
			rec := <-codes
			count[rec.Code]++
			if rec.Code == http.StatusTooManyRequests && rec.Header().Get("Retry-After") != "1" {
				t.Errorf("429 without Retry-After: 1: %v", rec.Header())
			}
		}
		if count[http.StatusAccepted] != 10 || count[http.StatusTooManyRequests] != 40 {
			t.Errorf("50 racing submitters: %v, want 10 202s and 40 429s", count)
		}
		if n := s.be.Client.LLen(t.Context(), s.be.Keys.Pending("bounded")).Val(); n != 10 {
			t.Errorf("LLEN pending = %d, want 10", n)
		}
	})
}

// TestSubmitWaitsForRoomParked: a submission with ?wait= to a full queue is
// parked and answered 202 once a worker takes a task from the queue; one
// whose wait runs out first gets 429 with Retry-After.
func TestSubmitWaitsForRoomParked(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		srv, hijacked := s.hijackCounting(t)
		s.bound(t, "bounded", 1)
		first := s.submit(t, `{"name":"echo","queue":"bounded"}`)

		start := time.Now()
		resp, body := parse(t, readAll(t, dialPost(t, srv, "/v1/tasks?wait=300ms", `{"name":"echo","queue":"bounded"}`)))
		if took := time.Since(start); resp.StatusCode != http.StatusTooManyRequests || took < 300*time.Millisecond {
			t.Errorf("POST ?wait=300ms to a full queue = %d %s after %s, want 429 after 300ms", resp.StatusCode, body, took)
		}
		if got := resp.Header.Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After = %q, want 1", got)
		}
		if !strings.Contains(body, `"code":"queue_full"`) || !strings.Contains(body, "max_length 1") {
			t.Errorf("429 body = %s, want code queue_full naming max_length 1", body)
		}

		single := dialPost(t, srv, "/v1/tasks?wait=20s", `{"name":"echo","queue":"bounded","payload":{"n":1}}`)
		eventually(t, "the submission to park", func() bool { return hijacked.Load() == 2 })
		s.startPool(t, "bounded", 1) // takes the first task: room for one
		resp, body = parse(t, readAll(t, single))
		var r record
		if err := json.Unmarshal([]byte(body), &r); err != nil || resp.StatusCode != http.StatusAccepted || r.Queue != "bounded" {
			t.Fatalf("parked POST once a worker took a task = %d %s, want 202 with the record", resp.StatusCode, body)
		}
		if loc := resp.Header.Get("Location"); loc != "/v1/tasks/"+r.ID || !resp.Close {
			t.Errorf("Location %q, Connection: close %v; want /v1/tasks/%s and close", loc, resp.Close, r.ID)
		}
		for _, id := range []string{first.ID, r.ID} {
			if got := get(t, s.app, "/v1/tasks/"+id+"?wait=10s"); got.Status != "succeeded" {
				t.Errorf("task %s is %s, want succeeded", id, got.Status)
			}
		}
	})
}

// TestSubmitBatchWaitsForRoom: a batch waits until all its tasks fit, and
// is answered with all its records.
func TestSubmitBatchWaitsForRoom(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		srv, hijacked := s.hijackCounting(t)
		s.bound(t, "bounded", 2)
		s.submit(t, `{"name":"echo","queue":"bounded"}`)
		batch := `{"tasks":[{"name":"echo","queue":"bounded"},{"name":"echo","queue":"bounded"},{"name":"echo"}]}`
		if rec := serve(s.app, newRequest(http.MethodPost, "/v1/tasks/batch", "application/json", batch)); rec.Code != http.StatusTooManyRequests {
			t.Fatalf("batch of 2 into 1 of 2 = %d %s, want 429", rec.Code, rec.Body)
		}
		conn := dialPost(t, srv, "/v1/tasks/batch?wait=20s&pretty", batch)
		eventually(t, "the batch to park", func() bool { return hijacked.Load() == 1 })
		s.bound(t, "bounded", 3)
		resp, body := parse(t, readAll(t, conn))
		var out struct{ Tasks []record }
		if err := json.Unmarshal([]byte(body), &out); err != nil || resp.StatusCode != http.StatusAccepted || len(out.Tasks) != 3 {
			t.Fatalf("parked batch once max_length rose = %d %s, want 202 with 3 records", resp.StatusCode, body)
		}
		if !strings.Contains(body, "\n  \"tasks\": [") {
			t.Errorf("?pretty batch answer is not indented: %s", body)
		}
	})
}

// TestSubmitWaitingHoldsNoGoroutines parks 1,000 submissions waiting for
// room: none holds a goroutine (a blocked one would hold two: its handler,
// in net/http's conn.serve, and the connection's background reader), and
// all are answered 202 once the queue has room for them.
func TestSubmitWaitingHoldsNoGoroutines(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		const n = 1000
		srv, hijacked := s.hijackCounting(t)
		s.bound(t, "bounded", 1)
		s.submit(t, `{"name":"echo","queue":"bounded"}`)
		before := runtime.NumGoroutine()
		conns := make([]net.Conn, n)
		for i := range conns {
			conns[i] = dialPost(t, srv, "/v1/tasks?wait=30s", fmt.Sprintf(`{"name":"echo","queue":"bounded","payload":%d}`, i))
		}
		eventually(t, fmt.Sprint(n, " parked submissions"), func() bool { return hijacked.Load() == n })
		// Other tests run meanwhile, so goroutines are counted where a
		// waiting submission would hold one: in a handler of this package
		// or a connection of net/http's server.
		var serving int
		eventually(t, "the handlers to return", func() bool {
			serving = goroutinesIn("net/http.(*conn).serve", "net/http.(*connReader).backgroundRead", "tasks.(*Client).enqueueWaiting")
			return serving < n/20
		})
		t.Logf("%d parked submissions: %d goroutines serving HTTP in the whole test binary; %d goroutines added in all",
			n, serving, runtime.NumGoroutine()-before)
		s.bound(t, "bounded", n+1)
		for i, conn := range conns {
			if resp, body := parse(t, readAll(t, conn)); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("submission %d = %d %s, want 202", i, resp.StatusCode, body)
			}
		}
		if got := s.be.Client.LLen(t.Context(), s.be.Keys.Pending("bounded")).Val(); got != n+1 {
			t.Errorf("queued = %d, want %d", got, n+1)
		}
	})
}

// goroutinesIn counts the goroutines with any of frames in their stacks.
func goroutinesIn(frames ...string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, f := range frames {
			if strings.Contains(g, f) {
				count++
				break
			}
		}
	}
	return count
}

// TestSubmitWaitsForRoomBlocked: where a connection cannot be hijacked
// (here a recorder; HTTP/2 likewise), the handler waits.
func TestSubmitWaitsForRoomBlocked(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		s.bound(t, "bounded", 1)
		s.submit(t, `{"name":"echo","queue":"bounded"}`)
		answered := make(chan *httptest.ResponseRecorder, 1)
		go func() {
			answered <- serve(s.app, newRequest(http.MethodPost, "/v1/tasks?wait=20s", "application/json", `{"name":"echo","queue":"bounded"}`))
		}()
		select {
		case rec := <-answered:
			t.Fatalf("POST ?wait=20s to a full queue answered at once: %d %s", rec.Code, rec.Body)
		case <-time.After(200 * time.Millisecond):
		}
		s.startPool(t, "bounded", 1)
		rec := <-answered
		if rec.Code != http.StatusAccepted || !strings.HasPrefix(rec.Header().Get("Location"), "/v1/tasks/") {
			t.Fatalf("blocked POST once a worker took a task = %d %s, want 202 with a Location", rec.Code, rec.Body)
		}
	})
}
