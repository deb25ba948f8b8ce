package broker_test

import (
	"fmt"
	"testing"

	"github.com/runq/runq/broker/internal/layout"
	"github.com/runq/runq/results"
)

// TestBroadcastCounters: an answer updates the counters in the task's hash
// (open, failed, missing) instead of reading every answer, and the task
// ends when the open count reaches 0; a task stored without the counters
// (before them) is counted once from its answers and ends the same way.
func TestBroadcastCounters(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		for _, legacy := range []bool{false, true} {
			workers := make([]string, 50)
			for i := range workers {
				workers[i] = fmt.Sprintf("w%d", i)
			}
			id := enqueueBroadcast(t, s, "q", "reload", workers...)
			task := s.be.Keys.Task(id)
			if legacy {
				s.be.Client.HDel(s.ctx, task, layout.FieldBroadcastOpen)
			}
			for i, w := range workers {
				status, text := results.WorkerMissing, "gone"
				switch i % 3 {
				case 0, 1:
					if startBroadcast(t, s, "q", w) == nil {
						t.Fatalf("StartBroadcast(%q) = nil", w)
					}
					status, text = results.WorkerSucceeded, "1"
					if i%3 == 1 {
						status, text = results.WorkerFailed, "boom"
					}
				}
				written, ended, err := s.b.AnswerBroadcast(s.ctx, id, "q", w, status, text)
				if err != nil || !written || ended != (i == len(workers)-1) {
					t.Fatalf("legacy %v: AnswerBroadcast(%s) = %v, %v, %v; want written, ended at the last", legacy, w, written, ended, err)
				}
				if open := s.be.Client.HGet(s.ctx, task, layout.FieldBroadcastOpen).Val(); open != fmt.Sprint(len(workers)-1-i) {
					t.Fatalf("legacy %v: HGET %s after %d answers = %q, want %d", legacy, layout.FieldBroadcastOpen, i+1, open, len(workers)-1-i)
				}
			}
			rec, err := s.b.Get(s.ctx, id)
			if want := "33 of 50 workers did not succeed: 17 failed, 16 missing"; err != nil || rec.Status != results.StatusFailed || rec.Error != want {
				t.Errorf("legacy %v: Get(%s) = %s, %q, %v; want failed, %q", legacy, id, rec.Status, rec.Error, err, want)
			}
		}
	})
}
