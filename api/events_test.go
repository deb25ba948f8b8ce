package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/tasks"
)

// sseEvent is one server-sent event as a client reads it.
type sseEvent struct {
	id, kind string
	rec      record
	progress *struct {
		Value float64 `json:"value"`
	}
}

// openEvents opens GET /v1/tasks/{id}/events on srv, resuming after last
// when it is not "".
func openEvents(t *testing.T, url, id, last string) *bufio.Reader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/tasks/"+id+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	if last != "" {
		req.Header.Set("Last-Event-ID", last)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET events = %d %q, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return bufio.NewReader(resp.Body)
}

// nextEvent reads one event (comments skipped); ok is false at the end
// of the stream.
func nextEvent(t *testing.T, r *bufio.Reader) (ev sseEvent, ok bool) {
	t.Helper()
	var data string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return ev, false
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && ev.kind != "":
			var full struct {
				record
				Progress *struct {
					Value float64 `json:"value"`
				} `json:"progress"`
			}
			if err := json.Unmarshal([]byte(data), &full); err != nil {
				t.Fatalf("event data %q: %v", data, err)
			}
			ev.rec, ev.progress = full.record, full.Progress
			return ev, true
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.kind = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		}
	}
}

// readEvents reads events until the stream ends, failing after 10s.
func readEvents(t *testing.T, r *bufio.Reader) []sseEvent {
	t.Helper()
	done := make(chan []sseEvent, 1)
	go func() {
		var evs []sseEvent
		for {
			ev, ok := nextEvent(t, r)
			if !ok {
				done <- evs
				return
			}
			evs = append(evs, ev)
		}
	}()
	select {
	case evs := <-done:
		return evs
	case <-time.After(deadline):
		t.Fatal("the event stream did not end in 10s")
		return nil
	}
}

// summary renders events as "kind:status" (with the progress value).
func summary(evs []sseEvent) string {
	var parts []string
	for _, ev := range evs {
		s := ev.kind + ":" + ev.rec.Status
		if ev.kind == tasks.EventProgress && ev.progress != nil {
			s += "@" + strconv.FormatFloat(ev.progress.Value, 'g', -1, 64)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// TestTaskEvents: a stream opened on a queued task shows it start, report
// progress twice and succeed, in order, then ends; resuming after an event
// gives only what followed; a stream opened after the end gives the final
// record at once.
func TestTaskEvents(t *testing.T) {
	t.Parallel()
	for _, be := range redistest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			s := setupIdle(t, be)
			srv := s.server(t)
			sub := s.submit(t, `{"name":"progress"}`)
			r := openEvents(t, srv.URL, sub.ID, "")
			first, ok := nextEvent(t, r)
			if !ok || first.kind != "status" || first.rec.Status != "queued" || first.id == "" {
				t.Fatalf("first event = %+v, want status queued with an id", first)
			}
			s.startPool(t, tasks.DefaultQueue, 2)
			evs := readEvents(t, r)
			want := "status:running progress:running@0.5 progress:running@1 end:succeeded"
			if got := summary(evs); got != want {
				t.Fatalf("events = %s, want %s", got, want)
			}
			for i := 1; i < len(evs)-1; i++ {
				if evs[i].id <= evs[i-1].id && len(evs[i].id) <= len(evs[i-1].id) {
					t.Errorf("event ids %q then %q, want growing", evs[i-1].id, evs[i].id)
				}
			}
			if end := evs[len(evs)-1]; string(end.rec.Result) != `"done"` || end.rec.FinishedAt == nil {
				t.Errorf("end event record = %+v, want the final record", end.rec)
			}
			resumed := readEvents(t, openEvents(t, srv.URL, sub.ID, evs[1].id))
			if got, want := summary(resumed), "progress:running@1 end:succeeded"; got != want {
				t.Errorf("events after Last-Event-ID %s = %s, want %s", evs[1].id, got, want)
			}
			began := time.Now()
			late := readEvents(t, openEvents(t, srv.URL, sub.ID, ""))
			if got, want := summary(late), "end:succeeded"; got != want {
				t.Errorf("events after the end = %s, want %s", got, want)
			}
			t.Logf("%s: a stream opened after the end answered in %v", be.Name, time.Since(began))
		})
	}
}

func TestTaskEventsErrors(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		if rec := serve(s.app, newRequest(http.MethodGet, "/v1/tasks/0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77/events", "", "")); rec.Code != http.StatusNotFound {
			t.Errorf("GET events of an unknown task = %d %s, want 404", rec.Code, rec.Body)
		}
		sub := s.submit(t, `{"name":"echo"}`)
		req := newRequest(http.MethodGet, "/v1/tasks/"+sub.ID+"/events", "", "")
		req.Header.Set("Last-Event-ID", "nonsense")
		if rec := serve(s.app, req); rec.Code != http.StatusBadRequest {
			t.Errorf("GET events with Last-Event-ID nonsense = %d %s, want 400", rec.Code, rec.Body)
		}
	})
}
