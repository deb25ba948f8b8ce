package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/api"
	"github.com/runq/runq/api/client"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
	"github.com/runq/runq/tasks/builtin"
)

// serve runs the API on be, with a worker pool of the built-in handlers on
// the default queue when pool is set, until the test ends, and returns its
// URL.
func serve(t *testing.T, be redistest.Backend, cfg api.Config, pool bool) string {
	t.Helper()
	url, stop := runAPI(be.Client, be.Prefix, cfg, pool)
	t.Cleanup(stop)
	return url
}

func TestClient(t *testing.T) {
	t.Parallel()
	for _, be := range redistest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			c, err := client.New(serve(t, be, api.Config{}, true), client.Config{MaxWait: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			rec, err := tasks.Submit(ctx, c, "sleep", builtin.SleepIn{MS: 350}) // several long polls of 100ms
			if err != nil || rec.Status != results.StatusQueued || rec.Name != "sleep" {
				t.Fatalf("Submit = %+v, %v", rec, err)
			}
			rec, err = c.Wait(ctx, rec.ID)
			if out, rerr := tasks.Result[builtin.SleepOut](rec); err != nil || rerr != nil || out.SleptMS != 350 {
				t.Fatalf("Wait = %+v, %v; Result = %+v, %v", rec, err, out, rerr)
			}
			if got, err := c.Get(ctx, rec.ID); err != nil || got.Status != results.StatusSucceeded || !got.FinishedAt.Equal(rec.FinishedAt) {
				t.Errorf("Get = %+v, %v; want the record Wait returned", got, err)
			}

			later, err := c.Submit(ctx, tasks.Request{Name: "echo", Options: tasks.Options{Delay: 200 * time.Millisecond}})
			if err != nil || later.Status != results.StatusScheduled || !later.RunAt.Equal(later.CreatedAt.Add(200*time.Millisecond)) {
				t.Fatalf("Submit with a delay = %+v, %v; want scheduled, run_at 200ms after creation", later, err)
			}
			if later, err = c.Wait(ctx, later.ID); err != nil || later.Status != results.StatusSucceeded || later.StartedAt.Before(later.RunAt) {
				t.Fatalf("Wait for the delayed task = %+v, %v; want succeeded, not before its run_at", later, err)
			}
			at := time.Now().Add(time.Hour).Truncate(time.Millisecond)
			if rec, err := c.Submit(ctx, tasks.Request{Name: "echo", Options: tasks.Options{RunAt: at}}); err != nil || !rec.RunAt.Equal(at) {
				t.Fatalf("Submit with run_at = %+v, %v; want run_at %v", rec, err, at)
			}

			recs, err := c.SubmitBatch(ctx, []tasks.Request{{Name: "echo"}, {Name: "fail", Options: tasks.Options{Queue: "nobody"}}})
			if err != nil || len(recs) != 2 || recs[1].Queue != "nobody" {
				t.Fatalf("SubmitBatch = %+v, %v", recs, err)
			}
			canceled, err := c.Cancel(ctx, recs[1].ID)
			if err != nil || canceled.Status != results.StatusCanceled {
				t.Errorf("Cancel = %+v, %v; want canceled", canceled, err)
			}
			if again, err := c.Cancel(ctx, recs[1].ID); err != nil || again.Status != results.StatusCanceled {
				t.Errorf("Cancel again = %+v, %v; want canceled (idempotent)", again, err)
			}
			if _, err := c.Wait(ctx, recs[0].ID); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Cancel(ctx, recs[0].ID); !errors.Is(err, tasks.ErrFinished) {
				t.Errorf("Cancel(finished) = %v, want ErrFinished", err)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	be := redistest.Mini(t)
	url := serve(t, be, api.Config{APIToken: "s3cret", BodyLimit: 1024}, false)
	ctx := context.Background()
	c, err := client.New(url, client.Config{Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	big := tasks.Request{Name: "echo", Payload: []byte(`"` + strings.Repeat("x", 2000) + `"`)} // over BodyLimit
	tests := []struct {
		name string
		call func() error
		want error
		code int // of the *Error; 0: refused before sending
	}{
		{"unknown name", func() error { _, err := c.Submit(ctx, tasks.Request{Name: "nope"}); return err }, tasks.ErrUnknownName, 422},
		{"too large", func() error { _, err := c.Submit(ctx, big); return err }, tasks.ErrInvalid, 413},
		{"bad queue", func() error {
			_, err := c.Submit(ctx, tasks.Request{Name: "echo", Options: tasks.Options{Queue: "a b"}})
			return err
		}, tasks.ErrInvalid, 0},
		{"bad payload", func() error {
			_, err := c.Submit(ctx, tasks.Request{Name: "echo", Payload: []byte(`{"a":`)})
			return err
		}, tasks.ErrInvalid, 0},
		{"bad batch", func() error { _, err := c.SubmitBatch(ctx, nil); return err }, tasks.ErrInvalid, 0},
		{"bad task in a batch", func() error {
			_, err := c.SubmitBatch(ctx, []tasks.Request{{Name: "echo"}, {Name: ""}})
			if err != nil && !strings.Contains(err.Error(), "tasks[1]") {
				return errors.New("the error does not name tasks[1]: " + err.Error())
			}
			return err
		}, tasks.ErrInvalid, 0},
		{"unknown task", func() error { _, err := c.Get(ctx, uuid.Must(uuid.NewV7())); return err }, tasks.ErrNotFound, 404},
		{"cancel unknown", func() error { _, err := c.Cancel(ctx, uuid.Must(uuid.NewV7())); return err }, tasks.ErrNotFound, 404},
		{"wait unknown", func() error { _, err := c.Wait(ctx, uuid.Must(uuid.NewV7())); return err }, tasks.ErrNotFound, 404},
	}
	for _, tt := range tests {
		err := tt.call()
		var ae *client.Error
		switch {
		case tt.code == 0 && (!errors.Is(err, tt.want) || errors.As(err, &ae)):
			t.Errorf("%s: %v, want %v found before sending", tt.name, err, tt.want)
		case tt.code != 0 && (!errors.Is(err, tt.want) || !errors.As(err, &ae) || ae.Status != tt.code || ae.Message == ""):
			t.Errorf("%s: %v, want %v, an *Error of status %d with a message", tt.name, err, tt.want, tt.code)
		}
	}

	anonymous, _ := client.New(url, client.Config{})
	_, err = anonymous.Get(ctx, uuid.Must(uuid.NewV7()))
	var ae *client.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Code != "unauthorized" || errors.Is(err, tasks.ErrNotFound) {
		t.Errorf("Get without the token = %v, want a 401 *Error", err)
	}

	rec, err := c.Submit(ctx, tasks.Request{Name: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond) // no worker: the task stays queued
	defer cancel()
	got, err := c.Wait(wctx, rec.ID)
	if !errors.Is(err, context.DeadlineExceeded) || got.Status != results.StatusQueued {
		t.Errorf("Wait past its deadline = %s, %v; want the queued record and DeadlineExceeded", got.Status, err)
	}

	be.Mini.Close()
	_, err = c.Submit(ctx, tasks.Request{Name: "echo"})
	if !errors.Is(err, tasks.ErrUnavailable) || !errors.As(err, &ae) || ae.RetryAfter != time.Second || !strings.Contains(ae.Message, "task not queued") {
		t.Errorf("Submit with Redis down = %v (%+v), want ErrUnavailable with Retry-After 1s", err, ae)
	}

	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens on its address now
	gone, _ := client.New(srv.URL, client.Config{})
	if _, err := gone.Get(ctx, uuid.Must(uuid.NewV7())); !errors.Is(err, tasks.ErrUnavailable) || errors.As(err, &ae) {
		t.Errorf("Get from a server that is not there = %v, want ErrUnavailable", err)
	}

	for _, bad := range []string{"", "localhost:8080", "ftp://x", "http://"} {
		if _, err := client.New(bad, client.Config{}); err == nil {
			t.Errorf("New(%q) = nil error, want one", bad)
		}
	}
}

// TestClientBehindAProxy checks the answers of something that is not runq,
// a proxy in front of it: its gateway errors mean tasks.ErrUnavailable, and
// a long poll it answers at once is not repeated in a spin.
func TestClientBehindAProxy(t *testing.T) {
	t.Parallel()
	var polls atomic.Int64
	var lastWait atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			http.Error(w, "<html>502 Bad Gateway</html>", http.StatusBadGateway)
			return
		}
		polls.Add(1)
		lastWait.Store(r.URL.Query().Get("wait"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%q,"name":"echo","queue":"default","status":"queued","payload":null,"attempts":0,"max_retries":3}`,
			strings.TrimPrefix(r.URL.Path, "/v1/tasks/"))
	}))
	t.Cleanup(proxy.Close)
	c, err := client.New(proxy.URL, client.Config{HTTPClient: &http.Client{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Submit(context.Background(), tasks.Request{Name: "echo"})
	var ae *client.Error
	if !errors.Is(err, tasks.ErrUnavailable) || !errors.As(err, &ae) || ae.Status != http.StatusBadGateway || ae.Code != "" {
		t.Errorf("Submit answered 502 by a proxy = %v, want ErrUnavailable, a 502 *Error without a code", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	rec, err := c.Wait(ctx, uuid.Must(uuid.NewV7()))
	if !errors.Is(err, context.DeadlineExceeded) || rec.Status != results.StatusQueued {
		t.Errorf("Wait = %s, %v; want the queued record and DeadlineExceeded", rec.Status, err)
	}
	// Unpaused, a second of polls answered at once would be thousands;
	// paused 50ms, 100ms, 200ms... it is a handful.
	if n := polls.Load(); n < 2 || n > 10 {
		t.Errorf("Wait polled %d times in 1s of answers that came at once, want 2 to 10", n)
	}
	// The long poll is kept under HTTPClient.Timeout (2s), not 60s: a
	// Wait without a deadline asks for 1.8s.
	wctx, wcancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); wcancel() }()
	_, _ = c.Wait(wctx, uuid.Must(uuid.NewV7()))
	if w, _ := lastWait.Load().(string); w != "1.8s" {
		t.Errorf("a long poll under an HTTP client timeout of 2s asked ?wait=%s, want 1.8s", w)
	}
}

// TestClientAnswersItCannotUse checks the answers of a server that is not
// quite runq: a 202 whose body is not a record (the task may have been
// queued: ErrUnavailable, as for a lost answer), and an error code this
// client does not know, matched by its status.
func TestClientAnswersItCannotUse(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, `{"id":`) // cut short
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":"resting","code":"a_code_from_the_future"}`)
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var ae *client.Error
	if _, err := c.Submit(context.Background(), tasks.Request{Name: "echo"}); !errors.Is(err, tasks.ErrUnavailable) || errors.As(err, &ae) {
		t.Errorf("Submit answered 202 with a broken body = %v, want ErrUnavailable (the answer was lost)", err)
	}
	_, err = c.Get(context.Background(), uuid.Must(uuid.NewV7()))
	if !errors.Is(err, tasks.ErrUnavailable) || !errors.As(err, &ae) || ae.Code != "a_code_from_the_future" {
		t.Errorf("Get answered 503 with an unknown code = %v, want ErrUnavailable by its status, the code kept", err)
	}
}
