package results

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Source is where a Watcher reads records and hears of finished tasks.
// broker.Broker is the Source runq uses.
type Source interface {
	// Get returns the record of task id, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (Record, error)
	// GetMany reads the records of ids together: recs[i] and errs[i] are
	// what Get(ctx, ids[i]) returns.
	GetMany(ctx context.Context, ids []uuid.UUID) (recs []Record, errs []error)
	// Listen subscribes to the notifications of finished tasks, calls
	// resync once subscribed (whatever finished before may have been
	// missed), then finished with the ID of every task notified, until ctx
	// ends (it returns nil) or the subscription fails (it returns why).
	Listen(ctx context.Context, finished func(uuid.UUID), resync func()) error
}

// Watcher lets many callers wait for tasks to finish over one subscription
// (Source.Listen): one connection however many waiters. Wait reads the
// record again after every notification, so a notification is only a hint
// and a lost one costs at most the wait's timeout; after a resubscription
// every waiter reads again at once.
//
// The subscription is held only while someone waits, and for
// unsubscribeAfter once the last waiter has gone: each notification wakes
// the process that holds it, on every finished task, which an API server
// nobody waits on would pay for at every arrival rate.
type Watcher struct {
	src Source
	log *slog.Logger

	stopped chan struct{} // closed when Run returns: waits end at once
	arrived chan struct{} // cap 1: a waiter came while none waited
	// idleAfter is unsubscribeAfter, or shorter in tests.
	idleAfter time.Duration

	mu        sync.Mutex
	waiters   map[uuid.UUID]map[chan struct{}]struct{}
	nwaiters  int       // in waiters
	idleSince time.Time // when the last waiter left; zero while any waits

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

// NewWatcher returns a Watcher reading records from src; nil log means
// slog.Default(). Run must be running for waits to end before their
// timeout.
func NewWatcher(src Source, log *slog.Logger) *Watcher {
	if log == nil {
		log = slog.Default()
	}
	return &Watcher{
		src:       src,
		log:       log,
		stopped:   make(chan struct{}),
		arrived:   make(chan struct{}, 1),
		idleAfter: unsubscribeAfter,
		waiters:   make(map[uuid.UUID]map[chan struct{}]struct{}),
		parked:    make(map[uuid.UUID]*Parked),
		base:      context.Background(),
	}
}

// Run holds the subscription, while anyone waits, until ctx ends,
// subscribing again with backoff when it fails. When it returns, waits in
// progress and later ones return the current record at once, so a server
// shutting down is not held by long polls; parked waiters are answered
// likewise before Run returns (waiting at most 15s for their reads and
// callbacks). Run may be called once.
func (w *Watcher) Run(ctx context.Context) error {
	w.mu.Lock()
	w.base = context.WithoutCancel(ctx)
	w.mu.Unlock()
	defer w.stopParked()
	defer close(w.stopped)
	backoff := minBackoff
	for {
		if !w.awaitWaiter(ctx) {
			return nil
		}
		subscribed := false
		lctx, idle := w.untilIdle(ctx)
		err := w.src.Listen(lctx, w.notify, func() { subscribed = true; w.notifyAll() })
		wentIdle := lctx.Err() != nil
		idle()
		switch {
		case ctx.Err() != nil:
			return nil
		case wentIdle: // nobody waited for unsubscribeAfter: unsubscribed
			continue
		case subscribed:
			backoff = minBackoff
		}
		w.log.Warn("results: subscription lost; subscribing again", "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// unsubscribeAfter is how long the subscription outlives the last waiter,
// so that waits coming one after another do not subscribe each time.
const unsubscribeAfter = 30 * time.Second

// awaitWaiter blocks until someone waits, and reports false if ctx ended
// first.
func (w *Watcher) awaitWaiter(ctx context.Context) bool {
	for {
		w.mu.Lock()
		n := w.nwaiters + w.nparked
		w.mu.Unlock()
		if n > 0 {
			return true
		}
		select {
		case <-w.arrived:
		case <-ctx.Done():
			return false
		}
	}
}

// untilIdle returns a context of ctx that ends once nobody has waited for
// w.idleAfter, and a func that releases it.
func (w *Watcher) untilIdle(ctx context.Context) (context.Context, context.CancelFunc) {
	lctx, cancel := context.WithCancel(ctx)
	go func() {
		tick := time.NewTicker(max(w.idleAfter/4, time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-tick.C:
			}
			w.mu.Lock()
			idle := w.nwaiters+w.nparked == 0 && !w.idleSince.IsZero() && time.Since(w.idleSince) >= w.idleAfter
			w.mu.Unlock()
			if idle {
				cancel()
				return
			}
		}
	}()
	return lctx, cancel
}

// arrivedLocked notes one more waiter; w.mu is held.
func (w *Watcher) arrivedLocked() {
	if w.nwaiters+w.nparked == 0 {
		wake(w.arrived)
	}
	w.idleSince = time.Time{}
}

// leftLocked notes that a waiter left; w.mu is held.
func (w *Watcher) leftLocked() {
	if w.nwaiters+w.nparked == 0 {
		w.idleSince = time.Now()
	}
}

// Backoff between attempts to subscribe.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Wait returns the record of task id once it is terminal, or as it is when
// timeout passes (0 or less: no timeout) or Run returns; when ctx ends
// first, the record last read (zero if none was) and ctx's error. Its
// reads go through Read, so that many waits beginning together share a
// few connections.
func (w *Watcher) Wait(ctx context.Context, id uuid.UUID, timeout time.Duration) (Record, error) {
	ch := w.add(id)
	defer w.remove(id, ch)
	var expired <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		expired = timer.C
	}
	var last Record
	read := func() (Record, error) {
		rec, err := w.Read(ctx, id)
		if err != nil && ctx.Err() != nil && last.ID != (uuid.UUID{}) {
			return last, ctx.Err()
		}
		return rec, err
	}
	for {
		rec, err := read()
		if err != nil || rec.Status.Terminal() {
			return rec, err
		}
		last = rec
		select {
		case <-ch:
		case <-expired:
			return read()
		case <-w.stopped:
			return read()
		case <-ctx.Done():
			return last, ctx.Err()
		}
	}
}

// Waiting returns how many waits are in progress, parked ones included.
func (w *Watcher) Waiting() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.nwaiters + w.nparked
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
	w.arrivedLocked()
	set[ch] = struct{}{}
	w.nwaiters++
	return ch
}

func (w *Watcher) remove(id uuid.UUID, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.waiters[id], ch)
	if len(w.waiters[id]) == 0 {
		delete(w.waiters, id)
	}
	w.nwaiters--
	w.leftLocked()
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
	return w.src.Get(ctx, id)
}
