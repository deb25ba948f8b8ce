package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// bounded sets queue's max_length through the client.
func (s bundle) bounded(t *testing.T, queue string, n int) {
	t.Helper()
	if _, err := s.client.UpdateQueue(context.Background(), queue, tasks.QueueUpdate{MaxLength: &n}); err != nil {
		t.Fatalf("UpdateQueue(%s, max_length %d): %v", queue, n, err)
	}
}

// full registers the handlers, bounds queue to n and queues n tasks in
// it: the next submission is refused.
func (s bundle) full(t *testing.T, queue string, n int) {
	t.Helper()
	s.register(t)
	s.bounded(t, queue, n)
	for range n {
		s.submit(t, echo(queue))
	}
}

// queued returns the length of queue's pending list.
func (s bundle) queued(t *testing.T, queue string) int64 {
	t.Helper()
	n, err := s.be.Client.LLen(context.Background(), s.be.Keys.Pending(queue)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// takeOne takes a task from queue as a worker would, and announces the
// room that made, as take.lua does when it empties a place in a full queue.
func (s bundle) takeOne(t *testing.T, queue string) {
	t.Helper()
	s.claim(t, queue, time.Minute)
	if err := s.be.Client.Publish(context.Background(), s.be.Keys.Events(), "room "+queue).Err(); err != nil {
		t.Fatal(err)
	}
}

// goroutinesIn counts the goroutines with frame in their stacks.
func goroutinesIn(frame string) int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	for n == len(buf) {
		buf = make([]byte, 2*len(buf))
		n = runtime.Stack(buf, true)
	}
	count := 0
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if strings.Contains(g, frame) {
			count++
		}
	}
	return count
}

func echo(queue string) tasks.Request {
	return tasks.Request{Name: "echo", Payload: []byte(`{}`), Options: tasks.Options{Queue: queue}}
}

func TestSubmitToAFullQueueIsRefused(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ctx := context.Background()
		s.register(t)
		s.bounded(t, "q", 2)
		s.submit(t, echo("q"))
		_, err := s.client.SubmitBatch(ctx, []tasks.Request{echo("q"), echo("q")})
		if !errors.Is(err, tasks.ErrQueueFull) {
			t.Fatalf("SubmitBatch of 2 into 1 of 2 = %v, want ErrQueueFull", err)
		}
		if want := "tasks: broker: queue q has no room (max_length 2)"; err.Error() != want {
			t.Errorf("error = %q, want %q", err, want)
		}
		s.submit(t, echo("q"))
		if _, err := s.client.Submit(ctx, echo("q")); !errors.Is(err, tasks.ErrQueueFull) {
			t.Fatalf("Submit into 2 of 2 = %v, want ErrQueueFull", err)
		}
		if n := s.queued(t, "q"); n != 2 {
			t.Errorf("queued = %d, want 2", n)
		}
	})
}

// TestWaitForRoomGetsInWhenAWorkerTakes: a submission waiting for room in
// a full queue is queued once a worker takes a task from it, and runs.
func TestWaitForRoomGetsInWhenAWorkerTakes(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.register(t)
		s.bounded(t, "q", 1)
		first := s.submit(t, echo("q"))
		ctx, cancel := context.WithTimeout(tasks.WaitForRoom(context.Background()), 20*time.Second)
		defer cancel()
		got := make(chan error, 1)
		var rec results.Record
		go func() {
			var err error
			rec, err = s.client.Submit(ctx, echo("q"))
			got <- err
		}()
		until(t, "the submission to wait for room", func() bool { return tasks.WaitingForRoom(s.client) == 1 })
		s.startPool(t, tasks.PoolConfig{Queues: []string{"q"}})
		if err := <-got; err != nil {
			t.Fatalf("Submit under WaitForRoom = %v, want the task queued once a worker took the first", err)
		}
		if r := s.wait(t, first); r.Status != results.StatusSucceeded {
			t.Errorf("first task %s, want succeeded", r.Status)
		}
		if r := s.wait(t, rec.ID); r.Status != results.StatusSucceeded {
			t.Errorf("waiting task %s, want succeeded", r.Status)
		}
	})
}

// TestWaitForRoomWakesOnTheEvent: with the periodic check out of the way,
// the room event alone lets a waiter in; the oldest waiter first.
func TestWaitForRoomWakesOnTheEvent(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		tasks.SetRoomRecheck(s.client, time.Hour)
		s.full(t, "q", 1)
		ctx, cancel := context.WithTimeout(tasks.WaitForRoom(context.Background()), 20*time.Second)
		defer cancel()
		order := make(chan string, 2)
		for i, name := range []string{"older", "younger"} {
			go func() {
				if _, err := s.client.Submit(ctx, echo("q")); err != nil {
					t.Errorf("Submit of the %s waiter: %v", name, err)
				}
				order <- name
			}()
			until(t, fmt.Sprintf("%d waiting", i+1), func() bool { return tasks.WaitingForRoom(s.client) == i+1 })
		}
		// The waiters subscribed before they counted as waiting? Not
		// necessarily: the subscription's own check covers what it misses.
		s.takeOne(t, "q")
		if got := <-order; got != "older" {
			t.Errorf("first in: the %s waiter, want the older", got)
		}
		until(t, "the younger to wait again", func() bool { return tasks.WaitingForRoom(s.client) == 1 })
		s.takeOne(t, "q")
		if got := <-order; got != "younger" {
			t.Errorf("second in: the %s waiter, want the younger", got)
		}
	})
}

// TestWaitForRoomWithoutTheEvent: a room nobody announced (a take whose
// message was lost) lets a waiter in at the next periodic check.
func TestWaitForRoomWithoutTheEvent(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		tasks.SetRoomRecheck(s.client, 50*time.Millisecond)
		s.full(t, "q", 1)
		ctx, cancel := context.WithTimeout(tasks.WaitForRoom(context.Background()), 20*time.Second)
		defer cancel()
		got := make(chan error, 1)
		go func() { _, err := s.client.Submit(ctx, echo("q")); got <- err }()
		until(t, "the submission to wait", func() bool { return tasks.WaitingForRoom(s.client) == 1 })
		s.claim(t, "q", time.Minute) // no message
		if err := <-got; err != nil {
			t.Fatalf("Submit = %v, want it queued at the next check", err)
		}
	})
}

func TestWaitForRoomEnds(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.full(t, "q", 2)
		ctx, cancel := context.WithTimeout(tasks.WaitForRoom(context.Background()), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := s.client.Submit(ctx, echo("q"))
		if !errors.Is(err, tasks.ErrQueueFull) || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 300*time.Millisecond {
			t.Errorf("Submit waiting 300ms = %v after %s, want ErrQueueFull and DeadlineExceeded after 300ms", err, time.Since(start))
		}
		// A batch with more tasks for the queue than its max_length never
		// fits: refused at once.
		start = time.Now()
		ctx, cancel = context.WithTimeout(tasks.WaitForRoom(context.Background()), 10*time.Second)
		defer cancel()
		_, err = s.client.SubmitBatch(ctx, []tasks.Request{echo("q"), echo("q"), echo("q")})
		if !errors.Is(err, tasks.ErrQueueFull) || time.Since(start) > 5*time.Second {
			t.Errorf("SubmitBatch of 3 into max_length 2 = %v after %s, want ErrQueueFull at once", err, time.Since(start))
		}
		if n := s.queued(t, "q"); n != 2 {
			t.Errorf("queued = %d, want 2", n)
		}
		if n := tasks.WaitingForRoom(s.client); n != 0 {
			t.Errorf("%d still waiting, want 0", n)
		}
	})
}

func TestWaitForRoomEndsAtClose(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.full(t, "q", 1)
		got := make(chan error, 1)
		go func() { _, err := s.client.Submit(tasks.WaitForRoom(context.Background()), echo("q")); got <- err }()
		parked := make(chan error, 1)
		s.client.ParkSubmit([]tasks.Request{echo("q")}, nil, time.Now().Add(time.Minute), func(_ []results.Record, err error) { parked <- err })
		until(t, "two waiting", func() bool { return tasks.WaitingForRoom(s.client) == 2 })
		if err := s.client.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-got; !errors.Is(err, tasks.ErrClosed) {
			t.Errorf("Submit waiting at Close = %v, want ErrClosed", err)
		}
		if err := <-parked; !errors.Is(err, tasks.ErrQueueFull) {
			t.Errorf("parked submission at Close = %v, want its refusal, ErrQueueFull", err)
		}
	})
}

func TestParkSubmit(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.register(t)
		s.bounded(t, "q", 1)
		type answer struct {
			recs []results.Record
			err  error
		}
		park := func(rs []tasks.Request, wait time.Duration) (<-chan answer, func() bool) {
			ch := make(chan answer, 1)
			_, refused := s.client.SubmitBatch(context.Background(), rs) // nil, or the refusal ParkSubmit carries on
			if refused == nil {
				ch <- answer{recs: []results.Record{{Status: results.StatusQueued}}}
				return ch, func() bool { return false }
			}
			cancel := s.client.ParkSubmit(rs, refused, time.Now().Add(wait), func(recs []results.Record, err error) { ch <- answer{recs, err} })
			return ch, cancel
		}
		// Not a refusal: submitted at once.
		first := make(chan answer, 1)
		s.client.ParkSubmit([]tasks.Request{echo("q")}, nil, time.Now().Add(time.Minute), func(recs []results.Record, err error) { first <- answer{recs, err} })
		if got := <-first; got.err != nil || len(got.recs) != 1 || got.recs[0].Status != results.StatusQueued {
			t.Fatalf("ParkSubmit into an empty queue = %+v, want one record queued", got)
		}
		// A batch that never fits its queue: answered at once.
		var never answer
		_, refused := s.client.SubmitBatch(context.Background(), []tasks.Request{echo("q"), echo("q")})
		done := make(chan struct{})
		s.client.ParkSubmit([]tasks.Request{echo("q"), echo("q")}, refused, time.Now().Add(time.Minute), func(recs []results.Record, err error) {
			never = answer{recs, err}
			close(done)
		})
		<-done
		if !errors.Is(never.err, tasks.ErrQueueFull) || !strings.Contains(never.err.Error(), "never takes the 2 tasks") {
			t.Errorf("ParkSubmit of 2 tasks into max_length 1 = %v, want ErrQueueFull at once, saying they never fit", never.err)
		}
		// Full until the deadline.
		start := time.Now()
		a, _ := park([]tasks.Request{echo("q")}, 200*time.Millisecond)
		if got := <-a; !errors.Is(got.err, tasks.ErrQueueFull) || time.Since(start) < 200*time.Millisecond {
			t.Errorf("ParkSubmit into a full queue = %v after %s, want ErrQueueFull after 200ms", got.err, time.Since(start))
		}
		// In once a worker takes a task.
		a, _ = park([]tasks.Request{echo("q")}, time.Minute)
		until(t, "the parked submission to wait", func() bool { return tasks.WaitingForRoom(s.client) == 1 })
		s.takeOne(t, "q")
		if got := <-a; got.err != nil || len(got.recs) != 1 {
			t.Fatalf("ParkSubmit once a task was taken = %+v, want it queued", got)
		}
		// Canceled: never answered, never queued.
		a, cancel := park([]tasks.Request{echo("q")}, time.Minute)
		until(t, "the parked submission to wait", func() bool { return tasks.WaitingForRoom(s.client) == 1 })
		if !cancel() {
			t.Fatal("cancel of a waiting submission = false, want true")
		}
		s.takeOne(t, "q")
		select {
		case got := <-a:
			t.Errorf("a canceled submission was answered: %+v", got)
		case <-time.After(300 * time.Millisecond):
		}
		if n := s.queued(t, "q"); n != 0 {
			t.Errorf("queued = %d after the take, want 0: the canceled one must not get in", n)
		}
	})
}

// TestParkSubmitHoldsNoGoroutine parks 1,000 submissions on a full queue:
// they wait without a goroutine each, and all get in as room comes.
func TestParkSubmitHoldsNoGoroutine(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		const n = 1000
		s.full(t, "q", 1)
		var wg sync.WaitGroup
		wg.Add(n)
		var mu sync.Mutex
		var failed []error
		_, refused := s.client.Submit(context.Background(), echo("q"))
		if !errors.Is(refused, tasks.ErrQueueFull) {
			t.Fatalf("Submit into a full queue = %v, want ErrQueueFull", refused)
		}
		for range n {
			s.client.ParkSubmit([]tasks.Request{echo("q")}, refused, time.Now().Add(time.Minute), func(_ []results.Record, err error) {
				defer wg.Done()
				if err != nil {
					mu.Lock()
					failed = append(failed, err)
					mu.Unlock()
				}
			})
		}
		until(t, fmt.Sprint(n, " parked"), func() bool { return tasks.WaitingForRoom(s.client) == n })
		// Other tests run meanwhile: the goroutines counted are those a
		// parked submission would hold, running its code.
		if held := goroutinesIn("tasks.(*parkedSubmit)"); held > n/20 {
			t.Errorf("%d parked submissions: %d goroutines in their code, want none but a few finishing", n, held)
		}
		s.bounded(t, "q", 0) // unbounded: every one gets in
		wg.Wait()
		if len(failed) > 0 {
			t.Errorf("%d of %d failed, the first with %v", len(failed), n, failed[0])
		}
		if got := s.queued(t, "q"); got != n+1 {
			t.Errorf("queued = %d, want %d", got, n+1)
		}
	})
}
