package tasks_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// TestProgress: a chatty handler's progress is throttled (a few writes a
// second), the latest value wins, and GET shows it.
func TestProgress(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		reported := make(chan struct{})
		release := make(chan struct{})
		s.reg.HandleFunc("chatty", func(ctx context.Context, tk *tasks.Task) (any, error) {
			for i := 1; i <= 100; i++ {
				if err := tk.Progress(ctx, float64(i)/100, map[string]int{"step": i}); err != nil {
					return nil, err
				}
				time.Sleep(5 * time.Millisecond)
			}
			close(reported)
			<-release
			return "ok", nil
		})
		s.register(t)
		id := s.submit(t, tasks.Request{Name: "chatty"})
		// Watched, so that each write leaves an event to count.
		if err := s.be.Client.HSet(context.Background(), s.be.Keys.Task(id), redistest.FieldWatched, "1").Err(); err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		s.startPool(t, tasks.PoolConfig{})
		<-reported
		var rec results.Record
		until(t, "the last progress", func() bool {
			rec = s.get(t, id)
			return rec.Progress != nil && rec.Progress.Value == 1
		})
		took := time.Since(began)
		if string(rec.Progress.Message) != `{"step":100}` || rec.Progress.At.IsZero() {
			t.Errorf("Get(%s).Progress = %+v, want value 1, message {\"step\":100}", id, rec.Progress)
		}
		writes, err := s.be.Client.XLen(context.Background(), s.be.Keys.TaskEvents(id)).Result()
		if err != nil {
			t.Fatal(err)
		}
		// One write per ProgressInterval, and one at once: over the
		// second or so that 100 reports take, five or six.
		if most := int64(took/tasks.ProgressInterval) + 2; writes < 2 || writes > most {
			t.Errorf("progress writes = %d for 100 reports in %v, want 2 to %d", writes, took, most)
		}
		t.Logf("%s: 100 reports in %v made %d writes", s.be.Name, took, writes)
		close(release)
		if rec := s.wait(t, id); rec.Status != results.StatusSucceeded || rec.Progress == nil || rec.Progress.Value != 1 {
			t.Errorf("Wait(%s) = %+v, want succeeded, the progress kept", id, rec)
		}
	})
}

// TestProgressFenced: an attempt that no longer holds its lease writes no
// progress.
func TestProgressFenced(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.register(t)
		id := s.submit(t, tasks.Request{Name: "echo"})
		c := s.claim(t, tasks.DefaultQueue, time.Minute)
		ctx := context.Background()
		if ok, err := s.b.Progress(ctx, &c, 0.5, []byte(`"half"`)); !ok || err != nil {
			t.Fatalf("Progress while holding the lease = %v, %v; want true", ok, err)
		}
		late := c
		late.Token = "someone-else"
		if ok, err := s.b.Progress(ctx, &late, 0.7, nil); ok || err != nil {
			t.Errorf("Progress under another token = %v, %v; want false", ok, err)
		}
		if err := s.finish(broker.Finish{Claimed: &c, Outcome: broker.Succeeded, Result: []byte(`1`)}); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.b.Progress(ctx, &c, 0.9, nil); ok || err != nil {
			t.Errorf("Progress after the finish = %v, %v; want false", ok, err)
		}
		if rec := s.get(t, id); rec.Progress == nil || rec.Progress.Value != 0.5 || string(rec.Progress.Message) != `"half"` {
			t.Errorf("Get(%s).Progress = %+v, want 0.5 \"half\" only", id, rec.Progress)
		}
	})
}

func TestProgressInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value float64
		msg   any
	}{
		{"negative", -0.1, nil},
		{"over one", 1.5, nil},
		{"NaN", math.NaN(), nil},
		{"oversize message", 0.5, strings.Repeat("x", tasks.MaxProgressMessage)},
		{"not JSON", 0.5, func() {}},
	}
	var tk tasks.Task
	for _, tt := range tests {
		if err := tk.Progress(context.Background(), tt.value, tt.msg); !errors.Is(err, tasks.ErrInvalidProgress) {
			t.Errorf("Progress(%s) = %v, want ErrInvalidProgress", tt.name, err)
		}
	}
	if err := tk.Progress(context.Background(), 1, "done"); err != nil {
		t.Errorf("Progress(1, \"done\") on a bare Task = %v, want nil", err)
	}
}
