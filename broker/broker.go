package broker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runq/runq/broker/internal/layout"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// ErrLeaseLost reports a write refused because the caller no longer holds
// the task's lease: it expired and the task was handed to another worker.
var ErrLeaseLost = errors.New("broker: lease lost")

// Broker runs runq's queue operations on one Redis (or Redis Cluster)
// client. It is safe for concurrent use.
type Broker struct {
	rdb  redis.UniversalClient
	keys layout.Keys

	enqueues *groupCommit[NewTask, enqueued]
	checked  atomic.Bool // checkRedis passed

	waitMu  sync.Mutex
	waitRDB redis.UniversalClient // blocking waits on several queues; see waitClient

	failedTTL atomic.Int64 // see SetFailedTTL
}

// maxGroup caps how many tasks one group-committed script call carries.
const maxGroup = 256

// groupLanes is how many group-committed flushes are in flight at once.
// With one, submissions from many goroutines waited for each other's round
// trip. Measured with runq bench, 16 producers, 100,000 tasks, two runs
// each: 1 lane 45-51k tasks/s (0.13 round trips/task), 2 lanes 59-61k
// (0.23), 4 lanes 60-61k (0.36), 8 lanes 54-57k (0.65, and more Redis CPU
// per task).
const groupLanes = 2

// New returns a Broker using rdb, with every key under prefix ("" means
// DefaultPrefix; a prefix of its own lets several runq systems, or tests,
// share one Redis); a prefix that ValidPrefix refuses panics, as a
// programmer's error. Open makes a client with the settings runq relies on;
// with a client of the caller's, calls are bounded by their contexts only
// when it has ContextTimeoutEnabled.
func New(rdb redis.UniversalClient, prefix string) *Broker {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := ValidPrefix(prefix); err != nil {
		panic(err.Error())
	}
	b := &Broker{rdb: rdb, keys: layout.Keys{Prefix: prefix}}
	b.enqueues = &groupCommit[NewTask, enqueued]{flush: b.enqueueFlush, max: maxGroup, lanes: groupLanes}
	return b
}

// waitClient returns the client for blocking waits on several queues: a
// small pool of its own when rdb is a *redis.Client. Such a wait leaves the
// BLMOVEs on the queues that did not wake blocked for up to their timeout
// (go-redis cannot interrupt a blocking read), and they must not take the
// connections that renewals and finishes need.
func (b *Broker) waitClient() redis.UniversalClient {
	b.waitMu.Lock()
	defer b.waitMu.Unlock()
	if b.waitRDB == nil {
		b.waitRDB = b.rdb
		if c, ok := b.rdb.(*redis.Client); ok {
			opts := *c.Options()
			opts.PoolSize, opts.MinIdleConns = 32, 0
			b.waitRDB = redis.NewClient(&opts)
		}
	}
	return b.waitRDB
}

// Close releases what the broker opened itself (not the client it was
// given). The broker may be used again after.
func (b *Broker) Close() error {
	b.waitMu.Lock()
	defer b.waitMu.Unlock()
	var err error
	if b.waitRDB != nil && b.waitRDB != b.rdb {
		err = b.waitRDB.Close()
	}
	b.waitRDB = nil
	return err
}

// newToken returns a random lease token, unique per take.
func newToken() string {
	var buf [12]byte
	_, _ = rand.Read(buf[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(buf[:])
}

// ms renders d as whole milliseconds for a script argument.
func ms(d time.Duration) string {
	if d == 0 {
		return "0" // the usual retry delay: no allocation
	}
	return strconv.FormatInt(d.Milliseconds(), 10)
}

// taskKeys parses ids and returns them with their hash keys.
func (b *Broker) taskKeys(ids []string) ([]string, []uuid.UUID, error) {
	keys := make([]string, len(ids))
	parsed := make([]uuid.UUID, len(ids))
	for i, s := range ids {
		id, err := layout.ParseIDText(s)
		if err != nil {
			return nil, nil, fmt.Errorf("broker: malformed id %q in a queue: %w", s, err)
		}
		keys[i], parsed[i] = b.keys.Task(id), id
	}
	return keys, parsed, nil
}

// anys returns ids as script arguments.
func anys(ids []string) []any {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return args
}

// byQueue groups the indexes of items by queue, in order of first
// appearance: a script touches one queue's slot only.
func byQueue[T any](items []T, queue func(T) string) [][]int {
	var groups [][]int
	at := make(map[string]int)
	for i, it := range items {
		q := queue(it)
		g, ok := at[q]
		if !ok {
			g = len(groups)
			at[q] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// isNoScript reports a NOSCRIPT reply: the script cache is empty (a
// restarted Redis) and the script must be loaded.
func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// loadScripts loads scripts into Redis's script cache.
func loadScripts(ctx context.Context, rdb redis.UniversalClient, scripts ...*redis.Script) error {
	for _, s := range scripts {
		if err := s.Load(ctx, rdb).Err(); err != nil {
			return err
		}
	}
	return nil
}

// scriptPipeline sends the pipeline fill builds, of EVALSHAs of scripts;
// if Redis's script cache lacked one (NOSCRIPT: a restarted or flushed
// Redis), it loads scripts and sends the pipeline once more, built anew.
func (b *Broker) scriptPipeline(ctx context.Context, fill func(redis.Pipeliner) error, scripts ...*redis.Script) error {
	_, err := b.rdb.Pipelined(ctx, fill)
	if !isNoScript(err) {
		return err
	}
	if err := loadScripts(ctx, b.rdb, scripts...); err != nil {
		return err
	}
	_, err = b.rdb.Pipelined(ctx, fill)
	return err
}

// toString reads a bulk string a script returned; nil (false in Lua) is "".
func toString(v any) string {
	s, _ := v.(string)
	return s
}
