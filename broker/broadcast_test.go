package broker_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/results"
)

// enqueueBroadcast stores a broadcast task of name in queue for workers.
func enqueueBroadcast(t *testing.T, s bundle, queue, name string, workers ...string) uuid.UUID {
	t.Helper()
	nt := broker.NewTask{Name: name, Queue: queue, Payload: []byte(`{"n":1}`), Timeout: time.Minute, ResultTTL: time.Hour}
	if _, err := s.b.EnqueueBroadcast(s.ctx, &nt, workers); err != nil {
		t.Fatalf("EnqueueBroadcast: %v", err)
	}
	return nt.ID
}

// startBroadcast starts the next broadcast task in worker's inbox.
func startBroadcast(t *testing.T, s bundle, queue, worker string) *broker.BroadcastTask {
	t.Helper()
	bt, err := s.b.StartBroadcast(s.ctx, queue, worker)
	if err != nil {
		t.Fatalf("StartBroadcast(%q) = %v", worker, err)
	}
	return bt
}

// TestBroadcastLifecycle runs a broadcast task to three workers: one
// succeeds, one fails, one is reported missing; the task ends failed when
// the last answers, with every answer in its record.
func TestBroadcastLifecycle(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		id := enqueueBroadcast(t, s, "q", "reload", "w1", "w2", "w3")
		rec, err := s.b.Get(s.ctx, id)
		if err != nil || rec.Status != results.StatusQueued || rec.Broadcast == nil || rec.Broadcast.Targets != 3 ||
			rec.Broadcast.Workers["w2"].Status != results.WorkerPending {
			t.Fatalf("Get(%s) = %+v, %v; want queued with 3 pending targets", id, rec, err)
		}
		for _, w := range []string{"w1", "w2"} {
			bt := startBroadcast(t, s, "q", w)
			if bt == nil || bt.ID != id || bt.Name != "reload" || string(bt.Payload) != `{"n":1}` || bt.Timeout != time.Minute {
				t.Fatalf("StartBroadcast(%q) = %+v, want task %s", w, bt, id)
			}
			if again := startBroadcast(t, s, "q", w); again != nil {
				t.Fatalf("StartBroadcast(%q) again = %+v, want nil: run once per worker", w, again)
			}
		}
		steps := []struct {
			worker      string
			status      results.WorkerStatus
			text        string
			wantWritten bool
			wantEnded   bool
		}{
			{"w3", results.WorkerSucceeded, `1`, false, false}, // not started: only missing replaces pending
			{"w1", results.WorkerSucceeded, `{"ok":true}`, true, false},
			{"w1", results.WorkerFailed, "late", false, false}, // final already
			{"w2", results.WorkerFailed, "boom", true, false},
			{"w3", results.WorkerMissing, "worker lost", true, true},
			{"w3", results.WorkerMissing, "worker lost", false, false},
		}
		for _, st := range steps {
			written, ended, err := s.b.AnswerBroadcast(s.ctx, id, "q", st.worker, st.status, st.text)
			if err != nil || written != st.wantWritten || ended != st.wantEnded {
				t.Fatalf("AnswerBroadcast(%s, %s) = %v, %v, %v; want %v, %v", st.worker, st.status, written, ended, err, st.wantWritten, st.wantEnded)
			}
		}
		rec, err = s.b.Get(s.ctx, id)
		if err != nil || rec.Status != results.StatusFailed || rec.FinishedAt.IsZero() {
			t.Fatalf("Get(%s) = %+v, %v; want failed", id, rec, err)
		}
		if want := "2 of 3 workers did not succeed: 1 failed, 1 missing"; rec.Error != want {
			t.Errorf("Get(%s).Error = %q, want %q", id, rec.Error, want)
		}
		w := rec.Broadcast.Workers
		if w["w1"].Status != results.WorkerSucceeded || string(w["w1"].Result) != `{"ok":true}` || w["w1"].StartedAt.IsZero() ||
			w["w2"].Status != results.WorkerFailed || w["w2"].Error != "boom" ||
			w["w3"].Status != results.WorkerMissing || w["w3"].Error != "worker lost" || !w["w3"].StartedAt.IsZero() {
			t.Errorf("Get(%s).Broadcast.Workers = %+v", id, w)
		}
		open, err := s.b.OpenBroadcasts(s.ctx, "q", 10)
		if err != nil || len(open) != 0 {
			t.Errorf("OpenBroadcasts = %+v, %v; want none once ended", open, err)
		}
		if n := s.be.Client.Exists(s.ctx, s.be.Keys.Inbox("q", "w3")).Val(); n != 0 {
			t.Errorf("inbox of w3 exists after its answer")
		}
		if ttl := s.be.Client.PTTL(s.ctx, s.be.Keys.BroadcastResults(id)).Val(); ttl <= 0 {
			t.Errorf("PTTL of the answers = %v, want the result TTL", ttl)
		}
		if st, err := s.b.Retry(s.ctx, id); err != nil || st != broker.StatusBroadcast {
			t.Errorf("Retry(%s) = %q, %v; want %q: a broadcast is not retried", id, st, err, broker.StatusBroadcast)
		}
	})
}

// TestBroadcastAllSucceed ends succeeded, and a canceled broadcast is not
// started and leaves the open set at the next answer for it.
func TestBroadcastAllSucceed(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		id := enqueueBroadcast(t, s, "q", "reload", "w1")
		if startBroadcast(t, s, "q", "w1") == nil {
			t.Fatal("StartBroadcast = nil, want the task")
		}
		if _, ended, err := s.b.AnswerBroadcast(s.ctx, id, "q", "w1", results.WorkerSucceeded, `7`); err != nil || !ended {
			t.Fatalf("AnswerBroadcast = %v, %v; want ended", ended, err)
		}
		if rec, err := s.b.Get(s.ctx, id); err != nil || rec.Status != results.StatusSucceeded {
			t.Fatalf("Get(%s) = %+v, %v; want succeeded", id, rec, err)
		}

		canceled := enqueueBroadcast(t, s, "q", "reload", "w1", "w2")
		if st, err := s.b.Cancel(s.ctx, canceled); err != nil || st != results.StatusCanceled {
			t.Fatalf("Cancel = %v, %v", st, err)
		}
		if bt := startBroadcast(t, s, "q", "w1"); bt != nil {
			t.Fatalf("StartBroadcast of a canceled task = %+v, want nil", bt)
		}
		if open, _ := s.b.OpenBroadcasts(s.ctx, "q", 10); len(open) != 1 || !open[0].Ended || len(open[0].Answers) != 2 {
			t.Fatalf("OpenBroadcasts = %+v, want the canceled one, ended, with its answers", open)
		}
		if written, _, err := s.b.AnswerBroadcast(s.ctx, canceled, "q", "w2", results.WorkerMissing, "x"); err != nil || written {
			t.Fatalf("AnswerBroadcast on a canceled task = %v, %v; want nothing written", written, err)
		}
		if open, _ := s.b.OpenBroadcasts(s.ctx, "q", 10); len(open) != 0 {
			t.Errorf("OpenBroadcasts = %+v, want none", open)
		}
	})
}
