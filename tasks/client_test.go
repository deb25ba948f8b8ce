package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/broker/redistest"
	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

func TestSubmitRefusesBadRequestsAndWritesNothing(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		if err := tasks.RegisterNames(context.Background(), s.b, s.reg); err != nil {
			t.Fatal(err)
		}
		before := redistest.KeysUnder(context.Background(), t, s.be.Client, s.be.Keys)
		tests := []struct {
			name string
			r    tasks.Request
			want error
		}{
			{"no name", tasks.Request{}, tasks.ErrInvalid},
			{"bad name", tasks.Request{Name: "a b"}, tasks.ErrInvalid},
			{"unknown name", tasks.Request{Name: "nobody.handles.this"}, tasks.ErrUnknownName},
			{"bad queue", tasks.Request{Name: "echo", Queue: "a{b}"}, tasks.ErrInvalid},
			{"bad payload", tasks.Request{Name: "echo", Payload: json.RawMessage("{")}, tasks.ErrInvalid},
			{"negative retries", tasks.Request{Name: "echo", MaxRetries: intp(-1)}, tasks.ErrInvalid},
			{"too many retries", tasks.Request{Name: "echo", MaxRetries: intp(1001)}, tasks.ErrInvalid},
			{"long timeout", tasks.Request{Name: "echo", Timeout: results.Duration(25 * time.Hour)}, tasks.ErrInvalid},
			{"short ttl", tasks.Request{Name: "echo", ResultTTL: results.Duration(time.Millisecond)}, tasks.ErrInvalid},
			{"huge payload", tasks.Request{Name: "echo", Payload: json.RawMessage(`"` + strings.Repeat("x", tasks.MaxPayload) + `"`)}, tasks.ErrInvalid},
		}
		for _, tt := range tests {
			if _, err := s.client.Submit(context.Background(), tt.r); !errors.Is(err, tt.want) {
				t.Errorf("Submit(%s) = %v, want %v", tt.name, err, tt.want)
			}
		}
		after := redistest.KeysUnder(context.Background(), t, s.be.Client, s.be.Keys)
		if strings.Join(after, ",") != strings.Join(before, ",") {
			t.Errorf("keys changed by refused submissions: before %v, after %v", before, after)
		}
	})
}

func TestSubmitDefaults(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		s.reg.HandleFunc("slowpoke", func(ctx context.Context, tk *tasks.Task) (any, error) { return nil, nil },
			tasks.HandlerOptions{MaxRetries: 7, Timeout: time.Minute})
		if err := tasks.RegisterNames(context.Background(), s.b, s.reg); err != nil {
			t.Fatal(err)
		}
		// Another process's client, which has not seen these names yet.
		client := tasks.NewClient(broker.New(s.be.Client, s.be.Keys), tasks.ClientConfig{Queue: "jobs"})
		tests := []struct {
			r            tasks.Request
			queue        string
			retries      int
			timeout, ttl time.Duration
		}{
			{tasks.Request{Name: "echo"}, "jobs", tasks.DefaultMaxRetries, tasks.DefaultTimeout, tasks.DefaultResultTTL},
			{tasks.Request{Name: "slowpoke"}, "jobs", 7, time.Minute, tasks.DefaultResultTTL},
			{tasks.Request{Name: "fail"}, "jobs", 0, tasks.DefaultTimeout, tasks.DefaultResultTTL},
			{tasks.Request{Name: "slowpoke", Queue: "q2", MaxRetries: intp(0), Timeout: results.Duration(time.Second),
				ResultTTL: results.Duration(time.Minute)}, "q2", 0, time.Second, time.Minute},
		}
		for _, tt := range tests {
			rec, err := client.Submit(context.Background(), tt.r)
			if err != nil {
				t.Fatalf("Submit(%+v): %v", tt.r, err)
			}
			stored, err := s.store.Get(context.Background(), rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, got := range []results.Record{rec, stored} {
				if got.Queue != tt.queue || got.MaxRetries != tt.retries || time.Duration(got.Timeout) != tt.timeout ||
					time.Duration(got.ResultTTL) != tt.ttl || got.Status != results.StatusQueued || string(got.Payload) != "null" {
					t.Errorf("Submit(%s): %+v; want queue %s, retries %d, timeout %v, ttl %v", tt.r.Name, got, tt.queue, tt.retries, tt.timeout, tt.ttl)
				}
			}
		}
	})
}
