package broker_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/runq/runq/broker"
)

// TestWatchMarksStart watches some queued tasks (short and packed
// payloads, with and without a callback URL) and claims them all: only
// the watched ones start Watched, every payload reads back unchanged
// through the claim and Get, and the callback's webhook is still due.
func TestWatchMarksStart(t *testing.T) {
	each(t, func(t *testing.T, s bundle) {
		big := bytes.Repeat([]byte(`{"sku":"SKU-00042","qty":3},`), 40)
		big = append(append([]byte("["), big...), "{}]"...)
		var ts []broker.NewTask
		for _, p := range [][]byte{[]byte(`{"n":1}`), big} {
			for _, cb := range []string{"", "https://example.com/hook"} {
				for range 2 { // the first of each pair is watched
					ts = append(ts, broker.NewTask{Name: "echo", Queue: "q", Payload: p, CallbackURL: cb})
				}
			}
		}
		if _, err := s.b.Enqueue(s.ctx, ts); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		watched := make(map[string]bool)
		for i := 0; i < len(ts); i += 2 {
			if _, _, err := s.b.Watch(s.ctx, ts[i].ID); err != nil {
				t.Fatalf("Watch(%s) = %v", ts[i].ID, err)
			}
			watched[ts[i].ID.String()] = true
		}
		byID := make(map[string]broker.NewTask)
		for _, nt := range ts {
			byID[nt.ID.String()] = nt
		}
		for _, c := range claimN(t, s, "q", len(ts), time.Minute) {
			nt := byID[c.ID.String()]
			want := fmt.Sprintf("watched %v, %d bytes, webhook %v", watched[c.ID.String()], len(nt.Payload), nt.CallbackURL != "")
			f := broker.Finish{Claimed: &c, Outcome: broker.Succeeded}
			if got := fmt.Sprintf("watched %v, %d bytes, webhook %v", c.Watched, len(c.Payload), f.SchedulesWebhook()); got != want || !bytes.Equal(c.Payload, nt.Payload) {
				t.Errorf("claimed %s: %s, want %s and the payload unchanged", c.ID, got, want)
			}
			rec, err := s.b.Get(s.ctx, c.ID)
			if err != nil || !bytes.Equal(rec.Payload, nt.Payload) {
				t.Errorf("Get(%s) payload = %d bytes, %v; want the %d bytes sent", c.ID, len(rec.Payload), err, len(nt.Payload))
			}
		}
	})
}
