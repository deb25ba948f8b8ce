package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/api"
	"github.com/runq/runq/broker"
	"github.com/runq/runq/cmd/internal/cli"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// apiServer is the HTTP API wired as `runq serve` wires it (cli's serve:
// tasks.NewClient, results.NewWatcher, api.New, api.NewHTTPServer), on a
// loopback port, with a Redis client of its own whose
// connections carry a name, so that CLIENT LIST can tell them apart.
type apiServer struct {
	rdb     *redis.Client
	b       *broker.Broker
	prefix  string // of every key
	watcher *results.Watcher
	http    *http.Server
	url     string // http://127.0.0.1:port
	name    string // CLIENT SETNAME of the server's Redis connections
	rtt     *roundTrips

	stopWatch context.CancelFunc
	watched   chan struct{} // closed when the watcher's Run returns
	served    chan struct{} // closed when Serve returns
}

// startAPI starts the API on the keys under prefix, with a client
// configured like base but with serve's pool size. Every hook is added to
// its client.
func startAPI(ctx context.Context, base *redis.Client, prefix string, hooks ...redis.Hook) (*apiServer, error) {
	var buf [4]byte
	_, _ = rand.Read(buf[:])
	opts := *base.Options()
	opts.PoolSize, opts.MinIdleConns, opts.MaxIdleConns = cli.ServePoolSize, 0, 0
	opts.ContextTimeoutEnabled = true
	opts.ClientName = "runqbench-api-" + hex.EncodeToString(buf[:])
	s := &apiServer{rdb: redis.NewClient(&opts), name: opts.ClientName, rtt: &roundTrips{},
		watched: make(chan struct{}), served: make(chan struct{})}
	for _, h := range hooks {
		s.rdb.AddHook(h)
	}
	s.rdb.AddHook(s.rtt)
	s.b = broker.New(s.rdb, prefix)
	s.prefix = prefix
	quiet := slog.New(slog.DiscardHandler)
	s.watcher = results.NewWatcher(s.b, quiet)
	watchCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stopWatch = stop
	go func() { defer close(s.watched); _ = s.watcher.Run(watchCtx) }()

	client := tasks.NewClient(s.rdb, tasks.ClientConfig{Prefix: prefix, Logger: quiet})
	apiCfg := api.Config{Logger: quiet}
	s.http = api.NewHTTPServer(apiCfg, api.New(apiCfg, client, s.watcher, s.b))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		close(s.served)
		s.close()
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	s.url = "http://" + ln.Addr().String()
	go func() { defer close(s.served); _ = s.http.Serve(ln) }()
	return s, nil
}

// ready gets the record of id once, so that the idle figures are those
// of a server that has answered a request. (Its watcher subscribes when the
// first long poll parks.)
func (s *apiServer) ready(id string) error {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Get(s.url + "/v1/tasks/" + id)
	if err != nil {
		return fmt.Errorf("warm-up GET: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("warm-up GET /v1/tasks/%s: status %d", id, resp.StatusCode)
	}
	return nil
}

// conns is how many Redis connections the server's client holds now: its
// pool plus its pub/sub connection.
func (s *apiServer) conns() int {
	st := s.rdb.PoolStats()
	return int(st.TotalConns) + int(st.PubSubStats.Active)
}

// close stops the server at once (every connection is closed), then the
// watcher, then its Redis client.
func (s *apiServer) close() error {
	err := s.http.Close()
	<-s.served
	s.stopWatch()
	<-s.watched
	err = errors.Join(err, s.b.Close(), s.rdb.Close())
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
