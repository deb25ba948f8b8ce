package broker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/runq/runq/broker"
)

func TestSettingsUpdateAndAnnounce(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		ctx, cancel := context.WithCancel(s.ctx)
		events := make(chan broker.Event, 10)
		subscribed := make(chan struct{}, 10)
		done := make(chan error, 1)
		go func() {
			done <- s.b.Events(ctx, func(e broker.Event) { events <- e }, func() { subscribed <- struct{}{} })
		}()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Events = %v, want nil when its context ends", err)
			}
		}()
		select {
		case <-subscribed:
		case <-time.After(5 * time.Second):
			t.Fatal("Events never subscribed")
		}

		if got, err := s.b.Settings(s.ctx, "q"); err != nil || got != (broker.QueueSettings{}) {
			t.Fatalf("Settings of a new queue = %+v, %v; want none", got, err)
		}
		ten, three, yes := 10, 3, true
		got, err := s.b.UpdateSettings(s.ctx, "q", broker.SettingsUpdate{MaxLength: &ten, MaxRunning: &three, Paused: &yes})
		want := broker.QueueSettings{Paused: true, MaxLength: 10, MaxRunning: 3}
		if err != nil || got != want {
			t.Fatalf("UpdateSettings = %+v, %v; want %+v", got, err, want)
		}
		select {
		case e := <-events:
			if e != (broker.Event{Kind: broker.EventSettings, Queue: "q"}) {
				t.Errorf("event = %+v, want settings of q", e)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no event announced the change")
		}

		zero, no := 0, false
		got, err = s.b.UpdateSettings(s.ctx, "q", broker.SettingsUpdate{MaxLength: &zero, Paused: &no})
		want = broker.QueueSettings{MaxRunning: 3}
		if err != nil || got != want {
			t.Fatalf("UpdateSettings unsetting = %+v, %v; want %+v", got, err, want)
		}
		if read, err := s.b.Settings(s.ctx, "q"); err != nil || read != want {
			t.Fatalf("Settings = %+v, %v; want %+v", read, err, want)
		}

		// Out of range: refused, nothing written.
		for _, u := range []broker.SettingsUpdate{{MaxLength: ptr(-1)}, {MaxRunning: ptr(broker.MaxMaxRunning + 1)}, {MaxLength: ptr(broker.MaxMaxLength + 1)}} {
			if _, err := s.b.UpdateSettings(s.ctx, "q", u); !errors.Is(err, broker.ErrBadSetting) {
				t.Errorf("UpdateSettings(%+v) = %v, want ErrBadSetting", u, err)
			}
		}
		if _, err := s.b.UpdateSettings(s.ctx, "a b", broker.SettingsUpdate{Paused: &yes}); err == nil {
			t.Error("UpdateSettings of a bad queue name succeeded")
		}
		if read, _ := s.b.Settings(s.ctx, "q"); read != want {
			t.Errorf("Settings after refused updates = %+v, want %+v", read, want)
		}
	})
}

func ptr(n int) *int { return &n }
