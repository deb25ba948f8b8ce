package outages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/api/client"
	"github.com/runq/runq/tasks"
)

// TestRedisRefusesWrites runs runq (API and worker in one process, as
// shipped) on a Redis that stays up but refuses writes: first out of
// memory (maxmemory reached, noeviction), then a read-only replica. While
// it refuses, every submission must be answered 503 in runq's words
// naming the reason, with Retry-After, never a 500; /readyz must say 503
// and why; the worker must log the outage once when it begins and once
// when it ends, not on every retry. Once Redis takes writes again,
// submissions are accepted and every task accepted before, during and
// after ends succeeded.
func TestRedisRefusesWrites(t *testing.T) {
	size := setup(t)
	began := time.Now()
	rs := StartRedis(t, "--maxmemory-policy", "noeviction")
	admin := rs.Client(t, 2)
	p, base := StartRunqAPI(t, "--redis", rs.URL(), "--addr", "127.0.0.1:0", "--concurrency", "4")
	c := NewClient(base, 5*time.Second, 8)
	var acked []uuid.UUID
	submit := func(n int, want Kind) (got map[Kind]int, bad []string) {
		got = make(map[Kind]int)
		for i := range n {
			a := Submit(c, fmt.Appendf(nil, `{"name":"echo","payload":{"i":%d}}`, i))
			got[a.Kind]++
			if a.Kind == Accepted {
				acked = append(acked, a.Record.ID)
			}
			if a.Kind != want {
				bad = append(bad, fmt.Sprintf("%s: %s", a.Kind, a.Detail))
			}
		}
		return got, bad
	}
	if _, bad := submit(20, Accepted); len(bad) > 0 {
		t.Fatalf("submissions before the refusal: %v", bad)
	}

	free, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	refusals := []struct {
		name, why     string
		refuse, allow []any
	}{
		{"out of memory", "Redis is out of memory (maxmemory reached)",
			[]any{"CONFIG", "SET", "maxmemory", "1"}, []any{"CONFIG", "SET", "maxmemory", "0"}},
		{"read-only replica", "Redis is a read-only replica",
			[]any{"REPLICAOF", "127.0.0.1", strconv.Itoa(free)}, []any{"REPLICAOF", "NO", "ONE"}},
	}
	var figures []any
	do := func(args []any) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return admin.Do(ctx, args...).Err()
	}
	for i, r := range refusals {
		// Keep the worker busy as the refusal begins: tasks running (their
		// outcomes meet it) and queued (its claims do). A take that pops
		// tasks from a Redis out of memory succeeds, yet proves nothing.
		for j := range 12 {
			if a := Submit(c, fmt.Appendf(nil, `{"name":"sleep","payload":{"ms":150,"i":%d}}`, j)); a.Kind != Accepted {
				t.Fatalf("%s: a busy task before the refusal: %s: %s", r.name, a.Kind, a.Detail)
			} else {
				acked = append(acked, a.Record.ID)
			}
		}
		if err := do(r.refuse); err != nil {
			t.Fatalf("%s: %v: %v", r.name, r.refuse, err)
		}
		refusing := time.Now()
		got, bad := submit(size.RefusedSubmissions, Unavailable)
		for _, b := range bad {
			t.Errorf("%s: a submission got %s, want a 503 in runq's words", r.name, b)
		}
		checkRefusal(t, c, base, r.name, r.why)
		time.Sleep(2 * time.Second) // the worker meets the refusal and retries meanwhile
		if err := do(r.allow); err != nil {
			t.Fatalf("%s: %v: %v", r.name, r.allow, err)
		}
		if _, bad := submit(20, Accepted); len(bad) > 0 {
			t.Errorf("%s: submissions once Redis took writes again: %v", r.name, bad)
		}
		// The worker's next write tells it Redis is back (within its
		// retry backoff, at most a second).
		for deadline := time.Now().Add(10 * time.Second); ups(p) <= i && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		figures = append(figures, strings.ReplaceAll(r.name, " ", "_"),
			fmt.Sprintf("503=%d/%d,for_s=%.1f", got[Unavailable], size.RefusedSubmissions, time.Since(refusing).Seconds()))
	}

	st := waitTerminal(t, admin, acked, 60*time.Second)
	if n := countStatus(st, "succeeded"); n != len(acked) {
		t.Errorf("%d of %d acknowledged tasks succeeded, want all", n, len(acked))
	}
	downs := len(workerDown.FindAllString(p.Stderr.String(), -1))
	if downs != len(refusals) || ups(p) != len(refusals) {
		t.Errorf("the worker logged %d outages and %d recoveries over %d refusals, want one of each per refusal",
			downs, ups(p), len(refusals))
	}
	figures = append(figures, "acked", len(acked), "succeeded", countStatus(st, "succeeded"),
		"worker_outage_logs", downs, "worker_recovery_logs", ups(p), "took_s", fmt.Sprintf("%.0f", time.Since(began).Seconds()))
	Summary(t, "redis-refuses-writes", figures...)
}

// The worker's log lines at the start and end of an outage.
var (
	workerDown = regexp.MustCompile(`msg="Redis unavailable: the worker keeps retrying"`)
	workerUp   = regexp.MustCompile(`msg="Redis available again"`)
)

func ups(p *Runq) int { return len(workerUp.FindAllString(p.Stderr.String(), -1)) }

// checkRefusal checks the answers of the API while Redis refuses writes:
// a submission's 503 says why, in runq's words, and when to try again;
// /readyz is 503 with the reason.
func checkRefusal(t *testing.T, c *client.Client, base, name, why string) {
	t.Helper()
	_, err := c.Submit(context.Background(), tasks.Request{Name: "echo"})
	var ae *client.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || ae.Code != "unavailable" ||
		ae.Message != why+": task not queued" || ae.RetryAfter != time.Second {
		t.Errorf("%s: Submit = %v (%+v), want 503 %q with Retry-After 1s", name, err, ae, why+": task not queued")
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get(base + "/readyz")
	if err != nil {
		t.Fatalf("%s: GET /readyz: %v", name, err)
	}
	defer resp.Body.Close()
	var ready struct{ Status, Error string }
	if err := json.NewDecoder(resp.Body).Decode(&ready); err != nil || resp.StatusCode != http.StatusServiceUnavailable ||
		ready.Status != "unavailable" || ready.Error != why {
		t.Errorf("%s: GET /readyz = %d %+v (%v), want 503 unavailable %q", name, resp.StatusCode, ready, err, why)
	}
}
