package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/api"
	"github.com/runq/runq/api/client"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// TestClientInspect lists, retries and purges through the API served on
// each backend, with a worker pool of the built-in handlers on the
// default queue.
func TestClientInspect(t *testing.T) {
	t.Parallel()
	for _, be := range redistest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			c, err := client.New(serve(t, be, api.Config{APIToken: "tok"}, true), client.Config{Token: "tok", MaxWait: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			checkList(ctx, t, c)
			checkRetry(ctx, t, c)
			checkQueuesAndPurge(ctx, t, c)
			checkWorkersAndHandlers(ctx, t, c)
		})
	}
}

// checkList fills a queue no worker takes and pages through it.
func checkList(ctx context.Context, t *testing.T, c *client.Client) {
	t.Helper()
	var ids []uuid.UUID
	for i := range 3 {
		rec, err := c.Submit(ctx, tasks.Request{Name: "echo", Payload: []byte(fmt.Sprint(i)), Options: tasks.Options{Queue: "idle"}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID)
	}
	first, err := c.List(ctx, tasks.ListOptions{Queue: "idle", Limit: 2})
	if err != nil || len(first.Tasks) != 2 || first.Tasks[0].ID != ids[2] || first.Tasks[1].ID != ids[1] || first.NextCursor == "" {
		t.Fatalf("List(idle, limit 2) = %+v, %v; want the 2 newest and a cursor", first, err)
	}
	rest, err := c.List(ctx, tasks.ListOptions{Queue: "idle", Limit: 2, Cursor: first.NextCursor})
	if err != nil || len(rest.Tasks) != 1 || rest.Tasks[0].ID != ids[0] || rest.NextCursor != "" {
		t.Errorf("List(idle, next page) = %+v, %v; want the oldest and no cursor", rest, err)
	}
	none, err := c.List(ctx, tasks.ListOptions{Queue: "idle", Status: results.StatusFailed, Name: "echo"})
	if err != nil || len(none.Tasks) != 0 {
		t.Errorf("List(idle, failed) = %+v, %v; want no tasks", none, err)
	}
	if _, err := c.List(ctx, tasks.ListOptions{Limit: tasks.MaxListLimit + 1}); !errors.Is(err, tasks.ErrInvalid) {
		t.Errorf("List(limit %d) = %v, want ErrInvalid", tasks.MaxListLimit+1, err)
	}
	if _, err := c.List(ctx, tasks.ListOptions{Status: "done"}); !errors.Is(err, tasks.ErrInvalid) {
		t.Errorf("List(status done) = %v, want ErrInvalid", err)
	}
}

// checkRetry retries a failed task, and refuses a succeeded one.
func checkRetry(ctx context.Context, t *testing.T, c *client.Client) {
	t.Helper()
	rec, err := tasks.Submit(ctx, c, "fail", map[string]string{"message": "boom"}, tasks.Options{MaxRetries: tasks.NoRetries})
	if err != nil {
		t.Fatal(err)
	}
	if rec, err = c.Wait(ctx, rec.ID); err != nil || rec.Status != results.StatusFailed {
		t.Fatalf("Wait(fail) = %+v, %v", rec, err)
	}
	// The answer is read after the task was queued again, so a worker
	// may have taken it already: any status but the first failure's.
	again, err := c.Retry(ctx, rec.ID)
	if err != nil || again.ID != rec.ID || (again.Status == results.StatusFailed && again.Attempts == 1) {
		t.Fatalf("Retry(failed) = %+v, %v; want it queued again, same id", again, err)
	}
	if again, err = c.Wait(ctx, rec.ID); err != nil || again.Status != results.StatusFailed || again.Attempts != 2 {
		t.Errorf("Wait after Retry = %s after %d attempts, %v; want failed after 2", again.Status, again.Attempts, err)
	}
	ok, err := c.Submit(ctx, tasks.Request{Name: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Wait(ctx, ok.ID); err != nil {
		t.Fatal(err)
	}
	var ae *client.Error
	if _, err := c.Retry(ctx, ok.ID); !errors.Is(err, tasks.ErrNotRetryable) || !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Errorf("Retry(succeeded) = %v, want ErrNotRetryable, a 409 *Error", err)
	}
	if _, err := c.Retry(ctx, uuid.Must(uuid.NewV7())); !errors.Is(err, tasks.ErrNotFound) {
		t.Errorf("Retry(unknown) = %v, want ErrNotFound", err)
	}
}

// checkQueuesAndPurge reads the queue checkList filled, then purges it.
func checkQueuesAndPurge(ctx context.Context, t *testing.T, c *client.Client) {
	t.Helper()
	qs, err := c.Queues(ctx)
	names := make([]string, len(qs))
	for i, q := range qs {
		names[i] = q.Name
	}
	if err != nil || !slices.Contains(names, "idle") || !slices.Contains(names, "default") || !slices.IsSorted(names) {
		t.Errorf("Queues = %q, %v; want idle and default, by name", names, err)
	}
	idle, err := c.Queue(ctx, "idle")
	if err != nil || idle.Name != "idle" || idle.Queued != 3 || idle.OldestQueued <= 0 || idle.Running != 0 {
		t.Errorf("Queue(idle) = %+v, %v; want 3 queued, the oldest waiting", idle, err)
	}
	var def tasks.QueueInfo
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		// workers report what succeeded with their heartbeat, within a second
		if def, err = c.Queue(ctx, "default"); err != nil || def.Succeeded >= 1 {
			break
		}
	}
	if err != nil || def.Failed < 1 || def.Succeeded < 1 {
		t.Errorf("Queue(default) = %+v, %v; want a failed and a succeeded task", def, err)
	}
	if n, err := c.Purge(ctx, "idle", results.StatusQueued); err != nil || n != 3 {
		t.Errorf("Purge(idle, queued) = %d, %v; want 3", n, err)
	}
	if page, err := c.List(ctx, tasks.ListOptions{Queue: "idle"}); err != nil || len(page.Tasks) != 0 {
		t.Errorf("List(idle) after Purge = %d tasks, %v; want none", len(page.Tasks), err)
	}
	if _, err := c.Purge(ctx, "idle", results.StatusRunning); !errors.Is(err, tasks.ErrInvalid) {
		t.Errorf("Purge(idle, running) = %v, want ErrInvalid", err)
	}
}

// checkWorkersAndHandlers reads the pool serve started and its handlers.
func checkWorkersAndHandlers(ctx context.Context, t *testing.T, c *client.Client) {
	t.Helper()
	ws, err := c.Workers(ctx)
	if err != nil || len(ws) != 1 || !slices.Equal(ws[0].Queues, []string{"default"}) || ws[0].PID == 0 || ws[0].LastHeartbeat.IsZero() {
		t.Errorf("Workers = %+v, %v; want the one pool, on default", ws, err)
	}
	hs, err := c.Handlers(ctx)
	var names []string
	for _, h := range hs {
		names = append(names, h.Name)
	}
	if err != nil || !slices.Equal(names, []string{"echo", "fail", "sleep"}) {
		t.Errorf("Handlers = %q, %v; want the built-in echo, fail, sleep", names, err)
	}
}

// TestClientInspectRequests checks the requests the new verbs send and
// how they read the contract's answers, against a server that answers as
// the contract says and records what it was asked.
func TestClientInspectRequests(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/tasks":
			fmt.Fprint(w, `{"tasks":[],"next_cursor":"n2"}`)
		case "/v1/queues/a.b:c":
			fmt.Fprint(w, `{"name":"a.b:c","queued":2,"oldest_queued":"1.5s","history":[{"at":"2026-01-02T03:04:00Z","processed":4,"failed":1}]}`)
		case "/v1/handlers":
			fmt.Fprint(w, `{"handlers":[{"name":"echo","max_retries":2,"timeout":"30s"},{"name":"bare"}]}`)
		case "/v1/schedules":
			fmt.Fprint(w, `{"schedules":[{"id":"@every 1m echo","spec":"@every 1m","name":"echo","queue":"default","payload":{"a":1},`+
				`"timeout":"30s","last_run":"2026-01-02T03:04:00Z","last_task_id":"0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77",`+
				`"next_run":"2026-01-02T03:05:00Z","declared_at":"2026-01-02T03:04:00.5Z"}]}`)
		case "/v1/queues/q/purge":
			fmt.Fprint(w, `{"queue":"q","status":"failed","purged":7}`)
		default: // a retry
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"error":"retry: task is succeeded","code":"not_retryable"}`)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, client.Config{Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	page, err := c.List(ctx, tasks.ListOptions{Queue: "q", Status: results.StatusFailed, Name: "a b", Limit: 5, Cursor: "c+1"})
	if err != nil || page.NextCursor != "n2" || page.Tasks == nil {
		t.Errorf("List = %+v, %v", page, err)
	}
	q, err := c.Queue(ctx, "a.b:c")
	if err != nil || q.Queued != 2 || q.OldestQueued != 1500*time.Millisecond || len(q.History) != 1 || q.History[0].Processed != 4 {
		t.Errorf("Queue = %+v, %v", q, err)
	}
	hs, err := c.Handlers(ctx)
	if err != nil || len(hs) != 2 || hs[0].Timeout != 30*time.Second || hs[0].MaxRetries != 2 || hs[1].Timeout != 0 {
		t.Errorf("Handlers = %+v, %v", hs, err)
	}
	ss, err := c.Schedules(ctx)
	if err != nil || len(ss) != 1 || ss[0].ID != "@every 1m echo" || string(ss[0].Payload) != `{"a":1}` || ss[0].Timeout != 30*time.Second ||
		ss[0].LastTaskID.String() != "0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77" || ss[0].NextRun.Sub(ss[0].LastRun) != time.Minute || ss[0].DeclaredAt.IsZero() {
		t.Errorf("Schedules = %+v, %v", ss, err)
	}
	if n, err := c.Purge(ctx, "q", results.StatusFailed); err != nil || n != 7 {
		t.Errorf("Purge = %d, %v, want 7", n, err)
	}
	id := uuid.MustParse("0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77")
	if _, err := c.Retry(ctx, id); !errors.Is(err, tasks.ErrNotRetryable) {
		t.Errorf("Retry answered 409 not_retryable = %v, want ErrNotRetryable", err)
	}
	for _, bad := range []func() error{
		func() error { _, err := c.Purge(ctx, "", results.StatusFailed); return err },
		func() error { _, err := c.Purge(ctx, "q", ""); return err },
		func() error { _, err := c.Queue(ctx, ""); return err },
	} {
		if err := bad(); !errors.Is(err, tasks.ErrInvalid) {
			t.Errorf("a call without a queue or status = %v, want ErrInvalid before sending", err)
		}
	}
	want := []string{
		"GET /v1/tasks?cursor=c%2B1&limit=5&name=a+b&queue=q&status=failed Bearer tok",
		"GET /v1/queues/a.b:c Bearer tok",
		"GET /v1/handlers Bearer tok",
		"GET /v1/schedules Bearer tok",
		"POST /v1/queues/q/purge?status=failed Bearer tok",
		"POST /v1/tasks/" + id.String() + "/retry Bearer tok",
	}
	if !slices.Equal(asked, want) {
		t.Errorf("requests:\n%q\nwant\n%q", asked, want)
	}
}
