package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/api"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
)

// The tests of parked long polls talk raw HTTP/1.1 over TCP, so that the
// bytes a parked poll writes can be compared with net/http's.

// dialPoll opens a connection to srv and sends GET target on it, with
// X-Request-Id reqID so that two answers can be compared byte for byte.
func dialPoll(t *testing.T, srv *httptest.Server, target, reqID string) net.Conn {
	t.Helper()
	conn := dial(t, srv)
	// "Connection: close", so that if the task changes before the handler
	// has parked (the watcher counts a poll from Park, before its Read),
	// the ordinary answer ends the connection too, and is the same answer.
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: runq\r\nX-Request-Id: %s\r\nConnection: close\r\n\r\n", target, reqID); err != nil {
		t.Fatalf("send GET %s: %v", target, err)
	}
	return conn
}

// dial opens a connection to srv, closed when the test ends.
func dial(t *testing.T, srv *httptest.Server) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatalf("dial %s: %v", srv.URL, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// readAll reads conn to its end, which a parked poll's answer closes.
func readAll(t *testing.T, conn net.Conn) string {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(deadline))
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("reading the answer: %v (read %q)", err, b)
	}
	return string(b)
}

// blockingAnswer is the answer net/http writes for GET target on a
// connection the client closes after it, read raw.
func blockingAnswer(t *testing.T, srv *httptest.Server, target, reqID string) string {
	t.Helper()
	return readAll(t, dialPoll(t, srv, target, reqID))
}

var dateLine = regexp.MustCompile(`(?m)^Date: [^\r]*\r$`)

func withoutDate(raw string) string { return dateLine.ReplaceAllString(raw, "Date: -\r") }

// parse reads raw as an HTTP response and returns its status and body.
func parse(t *testing.T, raw string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("answer %q: %v", raw, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("answer %q: body: %v", raw, err)
	}
	return resp, string(body)
}

// parked waits until n waits are registered with s's watcher.
func (s *bundle) parked(t *testing.T, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d parked polls", n), func() bool { return s.watcher.Waiting() == n })
}

func TestParkedAnswerIsNetHTTPs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, query string }{{"compact", ""}, {"pretty", "&pretty"}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			testParkedAnswerIsNetHTTPs(t, tt.query)
		})
	}
}

// testParkedAnswerIsNetHTTPs compares the raw answer of a parked poll with
// net/http's for the same request once the task has finished (not parked),
// on a connection the client closes, so that net/http too says
// "Connection: close": only the Date may differ.
func testParkedAnswerIsNetHTTPs(t *testing.T, query string) {
	eachBackend(t, func(t *testing.T, s *bundle) {
		srv := s.server(t)
		sub := s.submit(t, `{"name":"block","payload":{"gate":"same"}}`)
		target := "/v1/tasks/" + sub.ID + "?wait=20s" + query
		conn := dialPoll(t, srv, target, "same-bytes")
		s.parked(t, 1)
		s.gate("same").open()
		got := withoutDate(readAll(t, conn))
		want := withoutDate(blockingAnswer(t, srv, target, "same-bytes"))
		if got != want {
			t.Errorf("parked answer of GET %s =\n%q\nwant net/http's\n%q", target, got, want)
		}
		rec := serve(s.app, newRequest(http.MethodGet, target, "", ""))
		if _, body := parse(t, got); body != rec.Body.String() {
			t.Errorf("parked body %q, want the recorder's %q", body, rec.Body)
		}
	})
}

func TestParkedAnswerAtDeadline(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		srv := s.server(t)
		sub := s.submit(t, `{"name":"block","payload":{"gate":"late"}}`)
		start := time.Now()
		conn := dialPoll(t, srv, "/v1/tasks/"+sub.ID+"?wait=300ms", "late")
		resp, body := parse(t, readAll(t, conn))
		if took := time.Since(start); took < 300*time.Millisecond {
			t.Errorf("answer after %s, want after the 300ms wait", took)
		}
		var r record
		if err := json.Unmarshal([]byte(body), &r); err != nil || resp.StatusCode != http.StatusOK || (r.Status != "queued" && r.Status != "running") {
			t.Errorf("answer at the deadline = %d %s, want 200 with the current record, queued or running", resp.StatusCode, body)
		}
		if !resp.Close {
			t.Errorf("answer at the deadline has no Connection: close")
		}
	})
}

func TestParkedAnswerAtShutdown(t *testing.T) {
	t.Parallel()
	s := setup(t, redistest.Mini(t))
	w := results.NewWatcher(s.broker, quiet)
	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = w.Run(ctx) }()
	t.Cleanup(func() { stop(); <-stopped })
	srv := httptest.NewServer(api.New(api.Config{Logger: quiet}, s.client, w, s.broker))
	t.Cleanup(srv.Close)
	sub := s.submit(t, `{"name":"block","payload":{"gate":"shutdown"}}`)
	conn := dialPoll(t, srv, "/v1/tasks/"+sub.ID+"?wait=30s", "shutdown")
	eventually(t, "the poll to park", func() bool { return w.Waiting() == 1 })
	stop()
	waitClosed(t, stopped, "the watcher to answer its parked poll and stop")
	resp, body := parse(t, readAll(t, conn))
	var r record
	if err := json.Unmarshal([]byte(body), &r); err != nil || resp.StatusCode != http.StatusOK || (r.Status != "queued" && r.Status != "running") {
		t.Errorf("answer at shutdown = %d %s, want 200 with the current record, queued or running", resp.StatusCode, body)
	}
}

func TestParkedClientGoneSparesOthers(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		srv := s.server(t)
		sub := s.submit(t, `{"name":"block","payload":{"gate":"gone"}}`)
		target := "/v1/tasks/" + sub.ID + "?wait=20s"
		var conns []net.Conn
		for i := range 3 {
			conns = append(conns, dialPoll(t, srv, target, fmt.Sprint("gone-", i)))
		}
		s.parked(t, 3)
		conns[1].Close()
		if runtime.GOOS == "linux" {
			s.parked(t, 2) // the hangup is noticed (epoll) and the poll unparked
		}
		s.gate("gone").open()
		for _, i := range []int{0, 2} {
			if resp, body := parse(t, readAll(t, conns[i])); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"status":"succeeded"`) {
				t.Errorf("poll %d = %d %s, want 200 succeeded", i, resp.StatusCode, body)
			}
		}
	})
}

// TestParkedPipelinedAnswersAndCloses: a request sent behind a long poll
// on the same connection is not served; the poll's answer says
// Connection: close, so the client knows to send it again.
func TestParkedPipelinedAnswersAndCloses(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		// The poll is parked once its connection is hijacked: the
		// watcher counts it a moment before, when its record may still
		// be read and found finished, and answered in place.
		srv := httptest.NewUnstartedServer(s.app)
		hijacked := make(chan struct{}, 1)
		srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateHijacked {
				hijacked <- struct{}{}
			}
		}
		srv.Start()
		t.Cleanup(srv.Close)
		sub := s.submit(t, `{"name":"block","payload":{"gate":"pipelined"}}`)
		conn := dial(t, srv)
		fmt.Fprintf(conn, "GET /v1/tasks/%s?wait=20s HTTP/1.1\r\nHost: runq\r\n\r\nGET /healthz HTTP/1.1\r\nHost: runq\r\n\r\n", sub.ID)
		select {
		case <-hijacked:
		case <-time.After(10 * time.Second):
			t.Fatal("the long poll was not parked in 10s")
		}
		s.gate("pipelined").open()
		raw := readAll(t, conn)
		resp, body := parse(t, raw)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"status":"succeeded"`) || !resp.Close {
			t.Errorf("pipelined long poll = %d %s (close %v), want 200 succeeded and Connection: close", resp.StatusCode, body, resp.Close)
		}
		if n := strings.Count(raw, "HTTP/1.1 "); n != 1 {
			t.Errorf("%d answers on the connection, want only the poll's:\n%s", n, raw)
		}
	})
}

func TestParkedTaskGone(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		srv := s.server(t)
		sub := s.submit(t, `{"name":"block","payload":{"gate":"vanish"}}`)
		target := "/v1/tasks/" + sub.ID + "?wait=300ms"
		conn := dialPoll(t, srv, target, "vanish")
		s.parked(t, 1)
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		if err := s.be.Client.Del(ctx, s.be.Keys.Task(uuid.MustParse(sub.ID))).Err(); err != nil {
			t.Fatal(err)
		}
		got := withoutDate(readAll(t, conn))
		want := withoutDate(blockingAnswer(t, srv, target, "vanish"))
		if got != want {
			t.Errorf("parked answer for a vanished task =\n%q\nwant net/http's\n%q", got, want)
		}
		if resp, _ := parse(t, got); resp.StatusCode != http.StatusNotFound {
			t.Errorf("parked answer for a vanished task = %d, want 404", resp.StatusCode)
		}
	})
}

func TestParkedStorageDown(t *testing.T) {
	t.Parallel()
	s := setupIdle(t, redistest.Mini(t))
	srv := s.server(t)
	sub := s.submit(t, `{"name":"echo","queue":"parked"}`)
	conn := dialPoll(t, srv, "/v1/tasks/"+sub.ID+"?wait=300ms", "down")
	s.parked(t, 1)
	s.be.Mini.Close()
	resp, body := parse(t, readAll(t, conn))
	want := `{"error":"Redis is unreachable: try again later","code":"unavailable","request_id":"down"}` + "\n"
	if resp.StatusCode != http.StatusServiceUnavailable || body != want || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("parked answer with storage down = %d %q (Retry-After %q), want 503 %q and Retry-After 1",
			resp.StatusCode, body, resp.Header.Get("Retry-After"), want)
	}
}

// TestParkedPollsHoldNoGoroutine parks many polls over TCP: the goroutines
// do not grow with them, as two per blocked poll would. It counts the
// process's goroutines, so it does not run in parallel: the package's other
// tests would add theirs (it failed so once, with every package's tests
// running at once).
func TestParkedPollsHoldNoGoroutine(t *testing.T) {
	const n = 500
	s := setup(t, redistest.Mini(t))
	srv := s.server(t)
	sub := s.submit(t, `{"name":"block","payload":{"gate":"many-parked"}}`)
	target := "/v1/tasks/" + sub.ID + "?wait=20s"
	before := runtime.NumGoroutine()
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dialPoll(t, srv, target, fmt.Sprint("many-", i))
	}
	s.parked(t, n)
	// Blocked, the polls would hold 2n goroutines; the slack is for the
	// Redis connections the burst of reads opened (miniredis serves each on
	// a goroutine).
	if grown := runtime.NumGoroutine() - before; grown > n/2 {
		t.Errorf("goroutines grew by %d with %d parked polls, want far fewer than one per poll (%d blocked)", grown, n, 2*n)
	}
	s.gate("many-parked").open()
	for i, conn := range conns {
		if resp, body := parse(t, readAll(t, conn)); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"status":"succeeded"`) {
			t.Fatalf("poll %d = %d %s, want 200 succeeded", i, resp.StatusCode, body)
		}
	}
}
