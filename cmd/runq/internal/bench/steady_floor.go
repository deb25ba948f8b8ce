package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/cmd/internal/cli"
)

// The floor rows measure what any HTTP front of a Redis queue costs at the
// steady rows' rates on this machine, whatever it runs: a bare net/http
// server (the floor child) that reads each request, makes one Redis call
// (an RPUSH of the body) and answers 202 with a small JSON body, on the
// same go-redis pool as `runq serve`, fed by the same paced producers
// through the same HTTP client. Its CPU per request and Redis's are the
// floor under the HTTP rows' API and submission costs: what a goal for
// `runq serve` can be read against, on any machine. No worker runs.
const (
	childFloor = "steady-floor"
	pathFloor  = "HTTP floor"
)

// floorParams is what the bench sends its floor child on stdin.
type floorParams struct {
	URL  string `json:"url"`  // the Redis
	Key  string `json:"key"`  // the list each request's body is pushed onto
	Addr string `json:"addr"` // where to listen, 127.0.0.1:port
}

// floorAnswer is the floor's answer to a submission: a task record as
// runq's API answers one, so that the same client reads it.
const floorAnswer = `{"id":%q,"name":"` + steadyName + `","queue":"default","status":"queued"}`

// runFloor is the floor child: it serves floorHandler on the address it is
// given until ctx ends (the bench stops it with SIGTERM).
func runFloor(ctx context.Context, stdin io.Reader) error {
	var p floorParams
	if err := json.NewDecoder(stdin).Decode(&p); err != nil {
		return fmt.Errorf("bench floor: parameters: %w", err)
	}
	rdb, err := broker.Open(ctx, p.URL, cli.PoolSize("serve", 0))
	if err != nil {
		return fmt.Errorf("bench floor: %w", err)
	}
	defer rdb.Close()
	ln, err := net.Listen("tcp", p.Addr)
	if err != nil {
		return fmt.Errorf("bench floor: %w", err)
	}
	srv := &http.Server{Handler: floorHandler(rdb, p.Key), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("bench floor: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("bench floor: %w", err)
	}
	return nil
}

// floorHandler answers GET /readyz, and POST /v1/tasks with one RPUSH of
// the body (up to 1 MiB) onto key and a record with a new ID.
func floorHandler(rdb redis.UniversalClient, key string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /v1/tasks", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = rdb.RPush(r.Context(), key, body).Err()
		}
		if err != nil {
			http.Error(w, `{"error":"bench floor: `+err.Error()+`"}`, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = fmt.Fprintf(w, floorAnswer, uuid.Must(uuid.NewV7()))
	})
	return mux
}

// startFloor starts the floor child on the Redis at redisURL, pushing onto
// key, on a free loopback port, and waits until it answers.
func startFloor(ctx context.Context, redisURL, key string) (*serveChild, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd, err := childCommand(ctx, childFloor)
	if err != nil {
		return nil, err
	}
	in, err := json.Marshal(floorParams{URL: redisURL, Key: key, Addr: addr})
	if err != nil {
		return nil, err
	}
	cmd.Stdin = bytes.NewReader(in)
	return startHTTPChild(ctx, cmd, addr, "the floor process")
}

// floorOnce measures the floor at rate: the same submissions as a steady
// HTTP row, to the floor child.
func (r *runner) floorOnce(ctx context.Context, rate int) (Row, error) {
	n := steadyTasks(rate, r.cfg.SteadyFor)
	s, err := r.newScope(ctx, steadyRegistry(nil))
	if err != nil {
		return Row{}, err
	}
	defer r.cleanup(context.WithoutCancel(ctx), s)
	key := s.prefix + ":floor"
	srv, err := startFloor(ctx, r.cfg.RedisURL, key)
	if err != nil {
		return Row{}, err
	}
	submit, stop, err := httpSubmitter(srv)
	if err != nil {
		return Row{}, err
	}
	defer stop()
	c := startCost(ctx, r.rdb, r.rtt, srv.pid())
	submitted, err := paced(ctx, submit, n, rate, c.start)
	c.stop(ctx)
	if err != nil {
		return Row{}, err
	}
	if pushed, err := r.rdb.LLen(ctx, key).Result(); err != nil || pushed != int64(n) {
		return Row{}, fmt.Errorf("the floor child pushed %d of %d requests' bodies (%v)", pushed, n, err)
	}
	fig := &SteadyCost{Path: pathFloor, Producers: steadyProducers, SubmitSeconds: submitted.Sub(c.start).Seconds()}
	row := Row{Scenario: fmt.Sprintf("steady %d/s, %s", rate, pathFloor), Tasks: n, TargetRate: rate,
		PayloadBytes: steadyPayloadBytes, Steady: fig}
	fill(&row, c)
	perTask := func(d time.Duration) float64 { return float64(max(d, 0).Microseconds()) / float64(n) }
	row.ClientCPUus, row.APICPUus, row.WorkerCPUus = perTask(c.ownCPU), perTask(c.childCPU[0]), 0
	if fig.SubmitSeconds > 0 {
		row.TasksPerSec = float64(n) / fig.SubmitSeconds
	}
	return row, nil
}
