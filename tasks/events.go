package tasks

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/runq/runq/broker"
)

// listen follows the events channel (broker.Events) until ctx ends: a task
// scheduled earlier than any other of one of the pool's queues wakes the
// maintainer, which moves due tasks into their queues; a change of a
// queue's settings is read into the pool's copy (settings), which the
// claim loops consult; a slot freed in a queue at its max_running wakes
// the claim loops that wait for one (see gate.go). The copy is read whole
// each time the subscription is established, since a change announced
// while it was down is lost, and the waiting loops are woken. A broken
// subscription is set up again after a pause.
func (p *Pool) listen(ctx context.Context) {
	followEvents(ctx, p.b, func(ev broker.Event) { p.event(ctx, ev) }, func() {
		for _, q := range p.cfg.Queues {
			p.readSettings(ctx, q)
		}
		p.settings.touch() // a slot may have been freed meanwhile
		wake(p.bcast)      // a broadcast task may have arrived meanwhile
		wake(p.nudge)      // a task scheduled meanwhile may be due before the maintainer wakes
	}, func(err error, retryIn time.Duration) bool {
		if p.clientClosed(err) {
			return true
		}
		if !p.health.failed("listening for events", err) {
			p.log.Warn("listening for events failed; retrying", "err", err, "in", retryIn)
		}
		return false
	})
}

// followEvents follows b's events channel until ctx ends, calling on for
// each event, and subscribes again after a failure, with a backoff.
// subscribed runs at each subscription: what was missed while none was
// held must be read again there. failed hears of each failure and of the
// delay before the next try, and says whether to give up (a closed Redis
// client never opens again).
func followEvents(ctx context.Context, b *broker.Broker, on func(broker.Event), subscribed func(), failed func(err error, retryIn time.Duration) (stop bool)) {
	backoff := newRetryDelay(50*time.Millisecond, 5*time.Second)
	for ctx.Err() == nil {
		err := b.Events(ctx, on, func() {
			backoff.reset()
			subscribed()
		})
		if err == nil || ctx.Err() != nil || failed(err, backoff.peek()) {
			return
		}
		backoff.sleep(ctx)
	}
}

// event acts on one event of the events channel.
func (p *Pool) event(ctx context.Context, ev broker.Event) {
	if !slices.Contains(p.cfg.Queues, ev.Queue) {
		return
	}
	switch ev.Kind {
	case broker.EventDue:
		wake(p.nudge)
	case broker.EventSettings:
		p.readSettings(ctx, ev.Queue)
		wake(p.bcast) // resumed: its broadcast tasks wait in the inboxes
	case broker.EventSlot:
		p.settings.touch()
	case broker.EventBroadcast:
		wake(p.bcast)
		p.bwatch.open.Store(true) // to be checked each second until it ends
	case broker.EventWatch:
		p.watchTask(ev.ID)
	case broker.EventCancel:
		p.cancelTask(ev.ID)
	}
}

// readSettings reads queue's settings into the pool's copy. A read that
// fails leaves the copy as it was; the next change, or resubscription,
// reads again.
func (p *Pool) readSettings(ctx context.Context, queue string) {
	s, err := p.b.Settings(ctx, queue)
	if err != nil {
		if ctx.Err() == nil && !p.health.failed("reading queue settings", err) {
			p.log.Warn("reading queue settings failed", "queue", queue, "err", err)
		}
		return
	}
	p.settings.set(queue, s)
}

// settingsCopy is a pool's copy of its queues' settings, kept by listen.
// changed is closed (and replaced) at each change, so that a loop can wait
// for one without polling.
type settingsCopy struct {
	mu      sync.Mutex
	m       map[string]broker.QueueSettings
	changed chan struct{}
}

// get returns queue's settings as last read (zero until read), and a
// channel closed at the next change.
func (s *settingsCopy) get(queue string) (broker.QueueSettings, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.m[queue], s.changed
}

// touch wakes whoever waits for a change, as a change of the settings
// does: something they wait for may have happened (a slot freed).
func (s *settingsCopy) touch() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// set records queue's settings and, when they differ from the copy, wakes
// whoever waits for a change.
func (s *settingsCopy) set(queue string, v broker.QueueSettings) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[queue]; ok && old == v {
		return
	}
	if s.m == nil {
		s.m = make(map[string]broker.QueueSettings)
	}
	s.m[queue] = v
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}
