package results

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Watcher lets many callers wait for tasks to finish over one Redis
// subscription to the done channel: one connection however many waiters.
// Wait re-reads the task's hash after every notification, so a notification
// is only a hint and a lost one costs at most the wait's timeout; after a
// reconnect every waiter re-reads at once.
type Watcher struct {
	store   *Store
	rdb     redis.UniversalClient
	channel string
	log     *slog.Logger

	stopped chan struct{} // closed when Run returns: waits end at once

	mu      sync.Mutex
	waiters map[uuid.UUID]map[chan struct{}]struct{}

	// Parked waiters (parked.go), also under mu.
	parked    map[uuid.UUID]*Parked // by task, linked by next
	nparked   int
	deadlines deadlineHeap
	timer     *time.Timer // armed for deadlines[0]; nil until the first Park
	queue     []*Parked   // to be read by the workers
	workers   int
	base      context.Context // of the workers' reads: Run's, without its cancel
	stopping  bool            // Run is returning: answer every parked waiter
	answering int             // callbacks being called
	drained   chan struct{}   // closed when the last parked waiter is answered
}

// NewWatcher returns a Watcher reading records from store. Run must be
// running for waits to end before their timeout.
func NewWatcher(store *Store, log *slog.Logger) *Watcher {
	if log == nil {
		log = slog.Default()
	}
	return &Watcher{
		store:   store,
		rdb:     store.rdb,
		channel: store.keys.DoneChannel(),
		log:     log,
		stopped: make(chan struct{}),
		waiters: make(map[uuid.UUID]map[chan struct{}]struct{}),
		parked:  make(map[uuid.UUID]*Parked),
		base:    context.Background(),
	}
}

// Run holds the subscription until ctx ends, reconnecting with backoff.
// When it returns, waits in progress and later ones return the current
// record at once, so a server shutting down is not held by long polls;
// parked waiters are answered likewise before Run returns (waiting at most
// 15s for their reads and callbacks). Run may be called once.
func (w *Watcher) Run(ctx context.Context) error {
	w.mu.Lock()
	w.base = context.WithoutCancel(ctx)
	w.mu.Unlock()
	defer w.stopParked()
	defer close(w.stopped)
	ps := w.rdb.Subscribe(ctx, w.channel)
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	defer ps.Close()
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, 15*time.Second)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				_ = ps.Ping(ctx) // an idle link: prove it is alive
				continue
			}
			w.log.Warn("results: subscription lost; reconnecting", "err", err, "backoff", backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Message:
			// One message may carry many IDs, separated by spaces.
			for _, raw := range strings.Fields(m.Payload) {
				if id, err := uuid.Parse(raw); err == nil {
					w.notify(id)
				}
			}
		case *redis.Subscription:
			w.notifyAll() // (re)subscribed: anything may have been missed
		}
	}
	return nil
}

// Wait returns the record of task id once it is terminal, or as it is when
// timeout passes or ctx ends (with ctx's error).
func (w *Watcher) Wait(ctx context.Context, id uuid.UUID, timeout time.Duration) (Record, error) {
	ch := w.add(id)
	defer w.remove(id, ch)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		rec, err := w.store.Get(ctx, id)
		if err != nil || rec.Status.Terminal() {
			return rec, err
		}
		select {
		case <-ch:
		case <-timer.C:
			return w.store.Get(ctx, id)
		case <-w.stopped:
			return w.store.Get(ctx, id)
		case <-ctx.Done():
			return rec, ctx.Err()
		}
	}
}

// Waiting returns how many waits are in progress, parked ones included.
func (w *Watcher) Waiting() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.nparked
	for _, set := range w.waiters {
		n += len(set)
	}
	return n
}

func (w *Watcher) add(id uuid.UUID) chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	set := w.waiters[id]
	if set == nil {
		set = make(map[chan struct{}]struct{})
		w.waiters[id] = set
	}
	set[ch] = struct{}{}
	return ch
}

func (w *Watcher) remove(id uuid.UUID, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.waiters[id], ch)
	if len(w.waiters[id]) == 0 {
		delete(w.waiters, id)
	}
}

func (w *Watcher) notify(id uuid.UUID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.waiters[id] {
		wake(ch)
	}
	w.notifyParked(id)
}

func (w *Watcher) notifyAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, set := range w.waiters {
		for ch := range set {
			wake(ch)
		}
	}
	w.eachParked(w.enqueue)
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Get returns the record of task id, or ErrNotFound.
func (w *Watcher) Get(ctx context.Context, id uuid.UUID) (Record, error) {
	return w.store.Get(ctx, id)
}
