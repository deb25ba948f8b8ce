package tasks

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/runq/runq/broker"
)

// rooms lets submissions refused by a full queue wait for room, with no
// polling per waiter and no goroutine per waiter: one per Client follows
// the events channel (broker.Events) while anyone waits, and checks the
// room of the queues waited on (broker.Room, one round trip for all) when
// told that one has room ("room <queue>", published when a take brings a
// full queue below its max_length), when a queue's settings change, when
// its subscription is (re)established, and every roomRecheck all the
// same: a lost message, or room made by a cancel or a purge, which
// announce nothing, costs at most that long. It wakes the waiters of a
// queue oldest first, as many as the room takes (less those woken and not
// yet back), and each submits again; one refused again waits again in its
// place. A waiter is a callback, so that a blocked Submit and a parked
// HTTP request wait alike.
type rooms struct {
	b       *broker.Broker
	log     *slog.Logger
	recheck time.Duration // roomRecheck, or another in tests

	mu        sync.Mutex
	lines     map[string][]*roomWaiter // by queue, oldest first
	n         int                      // waiters in lines
	inflight  map[string]int           // places of the waiters woken and not yet back, by queue
	seq       uint64
	dirty     map[string]bool // queues to check at once
	kick      chan struct{}   // cap 1: something is dirty
	running   bool            // run's goroutine is up
	idleSince time.Time
	closed    bool
	stop      chan struct{} // closed by close: run returns
	stopped   chan struct{} // closed when run has returned (nil while none runs)
}

// roomWaiter is one submission waiting for room in queue.
type roomWaiter struct {
	queue string
	need  int    // places it takes: its tasks for queue
	wake  func() // called once per wait, outside rooms.mu, when queue may have room, or at close
	seq   uint64 // its place in line, kept when it waits again
	in    bool   // in its line
	woken bool   // woken and not yet back (counted in inflight)
}

// Timing of rooms.
const (
	// roomRecheck is how often the room of the queues waited on is read
	// whatever the events channel says: the most a lost message, or room
	// that nothing announces, delays a waiter.
	roomRecheck = time.Second
	// roomIdle is how long the subscription outlives the last waiter, so
	// that waits coming one after another do not subscribe each time.
	roomIdle = 30 * time.Second
	// roomReadTimeout bounds one read of the queues' room.
	roomReadTimeout = 5 * time.Second
)

func newRooms(b *broker.Broker, log *slog.Logger) *rooms {
	return &rooms{b: b, log: log, recheck: roomRecheck, lines: make(map[string][]*roomWaiter), inflight: make(map[string]int),
		dirty: make(map[string]bool), kick: make(chan struct{}, 1), stop: make(chan struct{})}
}

// add puts w in its queue's line, in its place if it waited before, and
// has the queue checked at once: room may have come between the refusal
// and now. After close it adds nothing and reports false: no room will
// be looked for any more.
func (r *rooms) add(w *roomWaiter) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		r.backLocked(w)
		return false
	}
	r.backLocked(w)
	if w.seq == 0 {
		r.seq++
		w.seq = r.seq
	}
	line := r.lines[w.queue]
	at, _ := slices.BinarySearchFunc(line, w.seq, func(x *roomWaiter, seq uint64) int { return cmpSeq(x.seq, seq) })
	r.lines[w.queue] = slices.Insert(line, at, w)
	w.in = true
	r.n++
	r.idleSince = time.Time{}
	r.dirty[w.queue] = true
	wake(r.kick)
	if !r.running {
		r.running = true
		r.stopped = make(chan struct{})
		go r.run(r.stopped)
	}
	return true
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// leave takes w out of its line, or, if it was woken, notes it back; after
// it, w is nowhere. It reports whether w was still in line.
func (r *rooms) leave(w *roomWaiter) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.backLocked(w)
	if !w.in {
		return false
	}
	line := r.lines[w.queue]
	if i := slices.Index(line, w); i >= 0 {
		line = slices.Delete(line, i, i+1)
	}
	if len(line) == 0 {
		delete(r.lines, w.queue)
	} else {
		r.lines[w.queue] = line
	}
	w.in = false
	r.leftLocked(1)
	return true
}

// backLocked notes that woken w is back (it submitted again); r.mu is
// held.
func (r *rooms) backLocked(w *roomWaiter) {
	if w.woken {
		w.woken = false
		if r.inflight[w.queue] -= w.need; r.inflight[w.queue] <= 0 {
			delete(r.inflight, w.queue)
		}
	}
}

// leftLocked notes that n waiters left their lines; r.mu is held.
func (r *rooms) leftLocked(n int) {
	r.n -= n
	if r.n == 0 {
		r.idleSince = time.Now()
	}
}

// close wakes every waiter, for the last time, and stops the subscription;
// add refuses later ones.
func (r *rooms) close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	close(r.stop)
	stopped := r.stopped
	var woken []*roomWaiter
	for q := range r.lines {
		woken = r.popLocked(q, -1, woken)
	}
	r.mu.Unlock()
	for _, w := range woken {
		w.wake()
	}
	if stopped != nil {
		<-stopped
	}
}

// popLocked takes the waiters of queue's line that room (-1: no bound)
// takes, oldest first, stopping at the first that does not fit, so that a
// batch is not passed over for ever by single tasks; they are appended to
// woken and counted in flight. r.mu is held.
func (r *rooms) popLocked(queue string, room int, woken []*roomWaiter) []*roomWaiter {
	line := r.lines[queue]
	unbounded := room < 0
	room -= r.inflight[queue]
	n := 0
	for n < len(line) && (unbounded || line[n].need <= room) {
		w := line[n]
		room -= w.need
		w.in, w.woken = false, true
		r.inflight[queue] += w.need
		woken = append(woken, w)
		n++
	}
	if n == len(line) {
		delete(r.lines, queue)
	} else {
		r.lines[queue] = line[n:]
	}
	if n > 0 {
		r.leftLocked(n)
	}
	return woken
}

// run follows the events channel and checks the room of the queues waited
// on, until close, or until nobody has waited for roomIdle.
func (r *rooms) run(stopped chan struct{}) {
	defer close(stopped)
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan struct{})
	defer func() { cancel(); <-listening }()
	go func() { defer close(listening); r.listen(ctx) }()
	tick := time.NewTicker(r.recheck)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-r.kick:
		case <-tick.C:
			if r.idle() {
				return
			}
			r.markAll()
		}
		r.check(ctx)
	}
}

// idle reports, and then records, that run is to return: nobody has
// waited for roomIdle.
func (r *rooms) idle() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n > 0 || r.idleSince.IsZero() || time.Since(r.idleSince) < roomIdle {
		return false
	}
	r.running = false
	return true
}

// markAll marks every queue waited on to be checked.
func (r *rooms) markAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for q := range r.lines {
		r.dirty[q] = true
	}
}

// mark marks queue to be checked at once, if anyone waits on it.
func (r *rooms) mark(queue string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.lines[queue]; ok {
		r.dirty[queue] = true
		wake(r.kick)
	}
}

// listen follows the events channel: room or new settings in a queue
// waited on has it checked; a (re)subscription has every queue checked, as
// what was announced meanwhile is lost. A broken subscription is set up
// again after a pause; roomRecheck covers the gap.
func (r *rooms) listen(ctx context.Context) {
	followEvents(ctx, r.b, func(ev broker.Event) {
		if ev.Kind == broker.EventRoom || ev.Kind == broker.EventSettings {
			r.mark(ev.Queue)
		}
	}, func() {
		r.markAll()
		wake(r.kick)
	}, func(err error, retryIn time.Duration) bool {
		if errors.Is(err, redis.ErrClosed) {
			return true // a closed Redis client: the waits end at their deadlines
		}
		r.log.Warn("tasks: listening for room in full queues failed; retrying", "err", err, "in", retryIn)
		return false
	})
}

// check reads the room of the queues marked and wakes the waiters it
// takes. A failed read wakes nobody: the next tick reads again.
func (r *rooms) check(ctx context.Context) {
	r.mu.Lock()
	queues := make([]string, 0, len(r.dirty))
	for q := range r.dirty {
		if _, ok := r.lines[q]; ok {
			queues = append(queues, q)
		}
	}
	clear(r.dirty)
	r.mu.Unlock()
	if len(queues) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, roomReadTimeout)
	room, err := r.b.Room(rctx, queues)
	cancel()
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, redis.ErrClosed) {
			r.log.Warn("tasks: reading the room of full queues failed", "err", err)
		}
		return
	}
	var woken []*roomWaiter
	r.mu.Lock()
	for i, q := range queues {
		woken = r.popLocked(q, room[i], woken)
	}
	r.mu.Unlock()
	for _, w := range woken {
		w.wake()
	}
}

// waiting returns how many submissions wait for room.
func (r *rooms) waiting() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}
