package outages

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/api/client"
)

// TestHTTPLoad runs size.LoadClients concurrent clients, each submitting
// echo tasks back to back for size.LoadFor, against one runq process (API
// and workers, default flags) on a real redis-server with the AOF on, all
// on loopback.
// Pass: no 5xx, no failed request, and every task that got a 202 reaches
// succeeded. Reports requests/s and the p50/p99 latency of a submission.
func TestHTTPLoad(t *testing.T) {
	size := setup(t)
	began := time.Now()
	rs := StartRedis(t, "--appendonly", "yes", "--appendfsync", "everysec")
	p, base := StartRunqAPI(t, "--redis", rs.URL(), "--addr", "127.0.0.1:0") // defaults, as shipped
	direct := openRedis(t, rs.URL(), 8)

	l := &load{client: NewClient(base, 10*time.Second, size.LoadClients)}
	start := time.Now()
	l.run(base, size.LoadClients, start.Add(size.LoadFor))
	elapsed := time.Since(start)
	st := waitTerminal(t, direct, l.ids, 2*time.Minute+4*size.LoadFor) // workers drain the backlog

	drained := time.Since(start) - elapsed
	succeeded, lost := countStatus(st, "succeeded"), countStatus(st, "")
	alive := p.Alive()

	Summary(t, "http-load", "size", size.Name, "clients", size.LoadClients, "for_s", size.LoadFor.Seconds(),
		"requests", l.requests, "rps", fmt.Sprintf("%.0f", float64(l.requests)/elapsed.Seconds()),
		"p50_ms", ms(l.lat.Percentile(50)), "p99_ms", ms(l.lat.Percentile(99)), "max_ms", ms(l.lat.Max()),
		"acked", len(l.ids), "status_5xx", l.fivexx, "failed_requests", len(l.bad), "lost", lost,
		"succeeded", succeeded, "drain_after_load", drained.Round(100*time.Millisecond), "runq_alive", alive,
		"duration", time.Since(began).Round(100*time.Millisecond))

	if l.fivexx > 0 || len(l.bad) > 0 {
		t.Errorf("%d answers with a 5xx, %d requests not answered 202; first: %s",
			l.fivexx, len(l.bad), strings.Join(l.bad[:min(5, len(l.bad))], "; "))
	}
	if succeeded != len(l.ids) {
		t.Errorf("%d of %d acknowledged tasks succeeded (%d lost); first others: %s",
			succeeded, len(l.ids), lost, notSucceeded(st, 5))
	}
	if !alive {
		t.Error("runq exited under load")
	}
}

// load is the figures of one load run.
type load struct {
	client *client.Client

	mu       sync.Mutex
	requests int
	lat      Durations
	ids      []uuid.UUID
	fivexx   int
	bad      []string
}

// run starts clients goroutines that submit until the deadline (or a
// million requests each) and waits for them.
func (l *load) run(base string, clients int, deadline time.Time) {
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []Answer
			for n := 0; n < 1_000_000 && time.Now().Before(deadline); n++ {
				mine = append(mine, Submit(l.client, fmt.Appendf(nil, `{"name":"echo","payload":{"c":%d,"n":%d}}`, c, n)))
			}
			l.add(mine)
		}()
	}
	wg.Wait()
}

func (l *load) add(answers []Answer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range answers {
		l.requests++
		l.lat = append(l.lat, a.Latency)
		switch {
		case a.Kind == Accepted:
			l.ids = append(l.ids, a.Record.ID)
			continue
		case a.Status >= 500:
			l.fivexx++
		}
		l.bad = append(l.bad, fmt.Sprintf("%s: %s", a.Kind, a.Detail))
	}
}
