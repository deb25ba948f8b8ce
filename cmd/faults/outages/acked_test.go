package outages

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/runq/runq/api/client"
	"github.com/runq/runq/results"
)

// ackCheck is what became of acknowledged tasks.
type ackCheck struct {
	mu               sync.Mutex
	lost, stuck, bad int
	lostIDs          []string
	reattempted      int         // tasks that took more than one attempt (a redelivery)
	started          []time.Time // when each task's last attempt started
	first            string      // the first problem, described
}

// checkAcked long-polls every acknowledged task over HTTP until it is
// terminal or within runs out, and counts the tasks lost (404), stuck (not
// terminal) and not succeeded with the echo of their payload {"i": i}.
func checkAcked(t *testing.T, base string, acked map[string]int, within time.Duration) *ackCheck {
	t.Helper()
	client := NewClient(base, 15*time.Second, 16)
	deadline := time.Now().Add(within)
	ids := make(chan string)
	c := &ackCheck{}
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				c.checkOne(client, id, acked[id], deadline)
			}
		}()
	}
	for id := range acked {
		ids <- id
	}
	close(ids)
	wg.Wait()
	return c
}

func (c *ackCheck) checkOne(client *client.Client, id string, i int, deadline time.Time) {
	for time.Now().Before(deadline) {
		a := Get(client, id, 10*time.Second)
		switch {
		case a.Kind == NotFound:
			c.note(&c.lost, "task "+id+": 404, the acknowledged task is gone")
			c.mu.Lock()
			c.lostIDs = append(c.lostIDs, id)
			c.mu.Unlock()
			return
		case a.Kind == OK && a.Record.Status.Terminal():
			c.judge(a.Record, i)
			return
		case a.Kind != OK:
			time.Sleep(100 * time.Millisecond) // a transient answer: ask again
		}
	}
	c.note(&c.stuck, "task "+id+": not terminal in time")
}

func (c *ackCheck) judge(rec results.Record, i int) {
	var got struct{ I int }
	if json.Unmarshal(rec.Result, &got) != nil || rec.Status != results.StatusSucceeded || got.I != i {
		c.note(&c.bad, fmt.Sprintf("task %s: status %s, result %s, error %q; want succeeded with {\"i\":%d}",
			rec.ID, rec.Status, rec.Result, rec.Error, i))
	}
	if rec.Attempts > 1 {
		c.note(&c.reattempted, "")
	}
	if !rec.StartedAt.IsZero() {
		c.mu.Lock()
		c.started = append(c.started, rec.StartedAt)
		c.mu.Unlock()
	}
}

func (c *ackCheck) note(n *int, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*n++
	if c.first == "" && msg != "" {
		c.first = msg
	}
}

// firstAfter returns the longest time, over the restarts, from Redis
// answering again to the first task started after it: how long the
// workers took to reconnect and claim.
func (c *ackCheck) firstAfter(restarts []restart) time.Duration {
	var worst time.Duration
	for _, x := range restarts {
		first := time.Duration(-1)
		for _, at := range c.started {
			if d := at.Sub(x.ready); d >= 0 && (first < 0 || d < first) {
				first = d
			}
		}
		worst = max(worst, first)
	}
	return worst
}
