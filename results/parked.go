package results

import (
	"container/heap"
	"context"
	"time"

	"github.com/google/uuid"
)

// A parked waiter is a Wait without a goroutine: Park registers a callback
// and returns. The subscription's notifications queue it for a read, one
// timer (armed for the earliest deadline) queues the expired, and at most
// parkWorkers goroutines, started on demand and gone when the queue is empty,
// read the queued records through Source.GetMany, up to parkBatch at once. A
// parked waiter costs its Parked and its callback's closure: no goroutine,
// no stack, no timer of its own.
const (
	parkWorkers     = 4
	parkBatch       = 256
	parkReadTimeout = 5 * time.Second  // bounds each pipeline of reads
	parkDrainLimit  = 15 * time.Second // bounds Run's answering of the parked at stop
)

// parkState is where a parked waiter is on its way to its answer.
type parkState uint8

const (
	parkIdle    parkState = iota // waiting for a notification or its deadline
	parkQueued                   // waiting for a worker to read its record
	parkReading                  // its record is being read
	parkDirty                    // being read, and notified again meanwhile
	parkDone                     // answered or canceled
)

// Parked is a waiter registered by Park. Its fields belong to the Watcher's
// mutex.
type Parked struct {
	w        *Watcher
	id       uuid.UUID
	deadline time.Time
	fn       func(Record, error)
	next     *Parked // the next waiter on the same task
	index    int     // in the deadline heap; -1 when out of it
	state    parkState
	final    bool // expired or stopping: answer whatever the next read says
	read     bool // not parked: a Read waiting for one read
}

// Park calls fn once, on a goroutine of the Watcher's, with the record of
// task id when a notification shows it terminal, when deadline passes (the
// record as it is then), or when Run returns (likewise); a read error is
// passed as Wait returns it. Unlike Wait, Park does not read the record
// first: a caller that has not seen it since Park should read it now, or
// a task that finished just before Park is answered only at the deadline.
// fn must not block for long: the goroutines that call it are few.
func (w *Watcher) Park(id uuid.UUID, deadline time.Time, fn func(Record, error)) *Parked {
	p := &Parked{w: w, id: id, deadline: deadline, fn: fn, index: -1}
	w.mu.Lock()
	defer w.mu.Unlock()
	p.next = w.parked[id]
	w.parked[id] = p
	w.arrivedLocked()
	w.nparked++
	if w.stopping {
		p.final = true
		w.enqueue(p)
		return p
	}
	heap.Push(&w.deadlines, p)
	if p.index == 0 {
		w.armTimer(time.Now())
	}
	return p
}

// Read returns the record of task id, as Get does, read in the pipelines
// of the parked waiters' workers: a burst of reads, such as many long polls
// arriving at once, shares a few connections instead of queueing for the
// pool's. ctx bounds the wait for the answer; the read itself is bounded
// as the workers' are.
func (w *Watcher) Read(ctx context.Context, id uuid.UUID) (Record, error) {
	got := make(chan parkAnswer, 1)
	p := &Parked{w: w, id: id, index: -1, read: true,
		fn: func(rec Record, err error) { got <- parkAnswer{rec, err} }}
	w.mu.Lock()
	w.enqueue(p)
	w.mu.Unlock()
	select {
	case a := <-got:
		return a.rec, a.err
	case <-ctx.Done():
		w.mu.Lock()
		if p.state == parkQueued {
			p.state = parkDone // take skips it
		}
		w.mu.Unlock()
		return Record{}, ctx.Err()
	}
}

type parkAnswer struct {
	rec Record
	err error
}

// Cancel unregisters p. It reports whether that stopped fn from being
// called: false means fn has been called or is about to be.
func (p *Parked) Cancel() bool {
	w := p.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if p.state == parkDone {
		return false
	}
	w.unpark(p)
	return true
}

// armTimer sets the timer for the earliest deadline.
func (w *Watcher) armTimer(now time.Time) {
	d := w.deadlines[0].deadline.Sub(now)
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.expire)
		return
	}
	w.timer.Reset(d)
}

// expire queues every waiter whose deadline has passed for its last read.
func (w *Watcher) expire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	for len(w.deadlines) > 0 && !w.deadlines[0].deadline.After(now) {
		p := heap.Pop(&w.deadlines).(*Parked)
		p.final = true
		w.enqueue(p)
	}
	if len(w.deadlines) > 0 && !w.stopping {
		w.armTimer(now)
	}
}

// enqueue queues p for a read, starting a worker if fewer than parkWorkers
// run. A p being read is read again afterwards, as the notification may
// postdate the read.
func (w *Watcher) enqueue(p *Parked) {
	switch p.state {
	case parkIdle:
		p.state = parkQueued
		w.queue = append(w.queue, p)
		if w.workers < parkWorkers {
			w.workers++
			go w.work()
		}
	case parkReading:
		p.state = parkDirty
	}
}

// notifyParked queues the waiters on id for a read.
func (w *Watcher) notifyParked(id uuid.UUID) {
	for p := w.parked[id]; p != nil; p = p.next {
		w.enqueue(p)
	}
}

// eachParked calls fn on every parked waiter; w.mu is held.
func (w *Watcher) eachParked(fn func(*Parked)) {
	for _, first := range w.parked {
		for p := first; p != nil; p = p.next {
			fn(p)
		}
	}
}

// unpark removes p from the registry; fn will not be called after.
func (w *Watcher) unpark(p *Parked) {
	if first := w.parked[p.id]; first == p && p.next == nil {
		delete(w.parked, p.id)
	} else if first == p {
		w.parked[p.id] = p.next
	} else {
		for q := first; q != nil; q = q.next {
			if q.next == p {
				q.next = p.next
				break
			}
		}
	}
	if p.index >= 0 {
		heap.Remove(&w.deadlines, p.index)
	}
	p.state, p.next = parkDone, nil
	w.nparked--
	w.leftLocked()
	w.checkDrained()
}

// checkDrained closes drained once no waiter is parked or being answered.
func (w *Watcher) checkDrained() {
	if w.nparked == 0 && w.answering == 0 && w.drained != nil {
		close(w.drained)
		w.drained = nil
	}
}

// work reads queued records until the queue is empty.
func (w *Watcher) work() {
	batch := make([]*Parked, 0, parkBatch)
	ids := make([]uuid.UUID, 0, parkBatch)
	for {
		if batch = w.take(batch[:0]); len(batch) == 0 {
			return
		}
		ids = ids[:0]
		for _, p := range batch {
			ids = append(ids, p.id) // the same ID twice costs a read, not a mistake
		}
		w.mu.Lock()
		base := w.base
		w.mu.Unlock()
		ctx, cancel := context.WithTimeout(base, parkReadTimeout)
		recs, errs := w.src.GetMany(ctx, ids)
		cancel()
		w.settle(batch, recs, errs)
	}
}

// take moves up to parkBatch queued waiters into batch, marked as being
// read. An empty batch means the worker is done, and no longer counted.
func (w *Watcher) take(batch []*Parked) []*Parked {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for n < len(w.queue) && len(batch) < parkBatch {
		if p := w.queue[n]; p.state == parkQueued {
			p.state = parkReading
			batch = append(batch, p)
		}
		n++
	}
	w.queue = w.queue[:copy(w.queue, w.queue[n:])]
	if len(batch) == 0 {
		w.workers--
	}
	return batch
}

// settle answers each waiter of batch whose record is terminal, unreadable
// or final, and parks the others again (queued again when notified during
// the read).
func (w *Watcher) settle(batch []*Parked, recs []Record, errs []error) {
	type answer struct {
		fn  func(Record, error)
		rec *Record
		err error
	}
	answers := make([]answer, 0, len(batch))
	w.mu.Lock()
	now := time.Now()
	for i, p := range batch {
		switch {
		case p.state == parkDone: // canceled during the read
		case p.read:
			answers = append(answers, answer{p.fn, &recs[i], errs[i]})
			w.answering++
			p.state = parkDone
		case errs[i] != nil || recs[i].Status.Terminal() || p.final || w.stopping || !now.Before(p.deadline):
			answers = append(answers, answer{p.fn, &recs[i], errs[i]})
			w.answering++
			w.unpark(p)
		case p.state == parkDirty:
			p.state = parkIdle
			w.enqueue(p)
		default:
			p.state = parkIdle
		}
	}
	w.mu.Unlock()
	for _, a := range answers {
		a.fn(*a.rec, a.err)
	}
	if len(answers) > 0 {
		w.mu.Lock()
		w.answering -= len(answers)
		w.checkDrained()
		w.mu.Unlock()
	}
}

// stopParked answers every parked waiter, and any parked later, with its
// current record; it returns when none is left, or after parkDrainLimit.
func (w *Watcher) stopParked() {
	w.mu.Lock()
	w.stopping = true
	if w.timer != nil {
		w.timer.Stop()
	}
	drained := make(chan struct{})
	w.drained = drained
	w.checkDrained()
	w.eachParked(func(p *Parked) {
		p.final = true
		w.enqueue(p)
	})
	w.mu.Unlock()
	select {
	case <-drained:
	case <-time.After(parkDrainLimit):
		w.log.Warn("results: parked waiters still unanswered at stop", "waiting", w.Waiting())
	}
}

// deadlineHeap orders parked waiters by deadline, earliest first.
type deadlineHeap []*Parked

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *deadlineHeap) Push(x any) {
	p := x.(*Parked)
	p.index = len(*h)
	*h = append(*h, p)
}
func (h *deadlineHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	p.index = -1
	return p
}
