package broker_test

import (
	"testing"
	"time"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

// TestBroadcastCanceledAndPurged: a broadcast task canceled while queued
// is cleared away by DropBroadcast (out of every target's inbox, dead ones
// too, and out of the open set; its answers take the task's expiry), and
// a purge of the canceled tasks deletes its answers hash with it, also for
// a task kept for good (result TTL 0), whose answers would otherwise stay
// for good.
func TestBroadcastCanceledAndPurged(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		for _, ttl := range []time.Duration{time.Hour, 0} {
			nt := broker.NewTask{Name: "reload", Queue: "q", Payload: []byte(`{}`), Timeout: time.Minute, ResultTTL: ttl}
			if _, err := s.b.EnqueueBroadcast(s.ctx, &nt, []string{"w1", "w2"}); err != nil {
				t.Fatalf("EnqueueBroadcast: %v", err)
			}
			id, answers := nt.ID, s.be.Keys.BroadcastResults(nt.ID)
			if dropped, err := s.b.DropBroadcast(s.ctx, id, "q", []string{"w1", "w2"}); err != nil || dropped {
				t.Fatalf("DropBroadcast(queued) = %v, %v; want nothing done", dropped, err)
			}
			if st, err := s.b.Cancel(s.ctx, id); err != nil || st != results.StatusCanceled {
				t.Fatalf("Cancel = %v, %v", st, err)
			}
			if dropped, err := s.b.DropBroadcast(s.ctx, id, "q", []string{"w1", "w2"}); err != nil || !dropped {
				t.Fatalf("DropBroadcast(canceled) = %v, %v; want done", dropped, err)
			}
			for _, k := range []string{s.be.Keys.Inbox("q", "w1"), s.be.Keys.Inbox("q", "w2")} {
				if n := s.be.Client.Exists(s.ctx, k).Val(); n != 0 {
					t.Errorf("ttl %s: EXISTS %s = %d after the drop, want 0", ttl, k, n)
				}
			}
			if n := s.be.Client.ZCard(s.ctx, s.be.Keys.Broadcasts("q")).Val(); n != 0 {
				t.Errorf("ttl %s: ZCARD open broadcasts = %d, want 0", ttl, n)
			}
			want := s.be.Client.PTTL(s.ctx, s.be.Keys.Task(id)).Val()
			if got := s.be.Client.PTTL(s.ctx, answers).Val(); (want > 0) != (got > 0) || got < want-time.Second {
				t.Errorf("ttl %s: PTTL of the answers = %v, want the task's %v", ttl, got, want)
			}
			if n, err := s.b.Purge(s.ctx, "q", results.StatusCanceled); err != nil || n != 1 {
				t.Fatalf("ttl %s: Purge(canceled) = %d, %v; want 1", ttl, n, err)
			}
			if n := s.be.Client.Exists(s.ctx, s.be.Keys.Task(id), answers).Val(); n != 0 {
				t.Errorf("ttl %s: %d of the task's two hashes left after the purge, want 0", ttl, n)
			}
		}
	})
}
