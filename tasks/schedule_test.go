package tasks_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/runq/runq/tasks"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// TestParseSpec reads the specs Cron takes, and refuses the others with
// an error that says why.
func TestParseSpec(t *testing.T) {
	t.Parallel()
	from := utc("2025-06-07T10:02:30Z") // a Saturday, summer time in Europe
	good := []struct {
		spec, norm string
		next       string
	}{
		{"*/5 * * * *", "*/5 * * * *", "2025-06-07T10:05:00Z"},
		{"  */5   *  * * * ", "*/5 * * * *", "2025-06-07T10:05:00Z"},
		{"30 */5 * * * *", "30 */5 * * * *", "2025-06-07T10:05:30Z"},
		{"* * * * * *", "* * * * * *", "2025-06-07T10:02:31Z"},
		{"0 9 * * MON-FRI", "0 9 * * MON-FRI", "2025-06-09T09:00:00Z"}, // no zone: UTC
		{"0 9 * * 1-5", "0 9 * * 1-5", "2025-06-09T09:00:00Z"},
		{"0 0 1 jan,jul ?", "0 0 1 jan,jul ?", "2025-07-01T00:00:00Z"},
		{"CRON_TZ=Europe/Paris 0 9 * * *", "CRON_TZ=Europe/Paris 0 9 * * *", "2025-06-08T07:00:00Z"},
		{"TZ=America/New_York 0 0 * * *", "TZ=America/New_York 0 0 * * *", "2025-06-08T04:00:00Z"},
		{"CRON_TZ=Asia/Tokyo @daily", "CRON_TZ=Asia/Tokyo @daily", "2025-06-07T15:00:00Z"},
		{"@hourly", "@hourly", "2025-06-07T11:00:00Z"},
		{"@daily", "@daily", "2025-06-08T00:00:00Z"},
		{"@midnight", "@midnight", "2025-06-08T00:00:00Z"},
		{"@weekly", "@weekly", "2025-06-08T00:00:00Z"},
		{"@monthly", "@monthly", "2025-07-01T00:00:00Z"},
		{"@yearly", "@yearly", "2026-01-01T00:00:00Z"},
		{"@annually", "@annually", "2026-01-01T00:00:00Z"},
		{"@every 1s", "@every 1s", "2025-06-07T10:02:31Z"},
		{"@every 90s", "@every 90s", "2025-06-07T10:03:00Z"}, // multiples of 90s since the epoch
		{"@every   1m", "@every 1m", "2025-06-07T10:03:00Z"},
		{"@every 7h", "@every 7h", "2025-06-07T15:00:00Z"}, // 69,417 periods of 7h since the epoch
	}
	for _, tt := range good {
		norm, next, err := tasks.ParseSpec(tt.spec, from)
		if err != nil || norm != tt.norm || !next.Equal(utc(tt.next)) {
			t.Errorf("ParseSpec(%q) = %q, next %v, %v; want %q, next %s", tt.spec, norm, next, err, tt.norm, tt.next)
		}
		if err := tasks.ValidSpec(tt.spec); err != nil {
			t.Errorf("ValidSpec(%q) = %v, want nil", tt.spec, err)
		}
	}
	bad := []struct{ spec, why string }{
		{"", "no schedule"},
		{"   ", "no schedule"},
		{"* * * *", "4 fields"},
		{"* * * * * * *", "7 fields"},
		{"61 * * * *", "61"},
		{"0 0 30 2 *", "never ticks"},
		{"a b c d e", "failed to parse"},
		{"@every", "want @every DURATION"},
		{"@every 1m 2m", "want @every DURATION"},
		{"@every soon", "whole number of seconds"},
		{"@every 500ms", "whole number of seconds"},
		{"@every 1.5s", "whole number of seconds"},
		{"@every 0s", "whole number of seconds"},
		{"@every -1m", "whole number of seconds"},
		{"@fortnightly", "unrecognized descriptor"},
		{"@hourly extra", "a descriptor stands alone"},
		{"CRON_TZ=UTC", "no schedule"},
		{"CRON_TZ=Mars/Olympus_Mons 0 9 * * *", "bad location"},
		{"CRON_TZ=UTC @every 1m", "drop the CRON_TZ="},
	}
	for _, tt := range bad {
		err := tasks.ValidSpec(tt.spec)
		if !errors.Is(err, tasks.ErrInvalid) || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("ValidSpec(%q) = %v, want ErrInvalid saying %q", tt.spec, err, tt.why)
		}
	}
}

// TestCronRefusesBadDeclarations checks what AddCron refuses, and that
// Cron and Every panic on it.
func TestCronRefusesBadDeclarations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		declare func(r *tasks.Registry) error
		why     string
	}{
		{"bad spec", func(r *tasks.Registry) error { return r.AddCron("* *", "echo", nil) }, "2 fields"},
		{"bad name", func(r *tasks.Registry) error { return r.AddCron("@hourly", "a b", nil) }, "task name"},
		{"unencodable payload", func(r *tasks.Registry) error { return r.AddCron("@hourly", "echo", func() {}) }, "does not encode"},
		{"invalid raw payload", func(r *tasks.Registry) error { return r.AddCron("@hourly", "echo", json.RawMessage("{")) }, "does not encode"},
		{"bad queue", func(r *tasks.Registry) error {
			return r.AddCron("@hourly", "echo", nil, tasks.ScheduleOptions{Options: tasks.Options{Queue: "a b"}})
		}, "queue"},
		{"timeout out of range", func(r *tasks.Registry) error {
			return r.AddCron("@hourly", "echo", nil, tasks.ScheduleOptions{Options: tasks.Options{Timeout: 48 * time.Hour}})
		}, "timeout"},
		{"bad ID", func(r *tasks.Registry) error {
			return r.AddCron("@hourly", "echo", nil, tasks.ScheduleOptions{ID: "a\nb"})
		}, "schedule ID"},
		{"two options", func(r *tasks.Registry) error {
			return r.AddCron("@hourly", "echo", nil, tasks.ScheduleOptions{}, tasks.ScheduleOptions{})
		}, "more than one"},
		{"twice", func(r *tasks.Registry) error {
			_ = r.AddCron("@hourly", "echo", 1)
			return r.AddCron(" @hourly ", "echo", 2) // the same ID: spec and name
		}, `"@hourly echo" of queue default declared twice`},
		{"Every then Cron of its spec", func(r *tasks.Registry) error {
			r.Every(time.Hour, "echo", nil)
			r.Every(150*time.Minute, "echo", nil)
			if err := r.AddCron("@every 2h30m", "echo", nil); err == nil {
				return errors.New("Every(150m) then @every 2h30m: no error")
			}
			return r.AddCron("@every 1h", "echo", nil)
		}, `"@every 1h echo" of queue default declared twice`},
	}
	for _, tt := range tests {
		err := tt.declare(tasks.NewRegistry())
		if !errors.Is(err, tasks.ErrInvalid) || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("%s: AddCron = %v, want ErrInvalid saying %q", tt.name, err, tt.why)
		}
	}
	mustPanic(t, "Cron with a bad spec", func() { tasks.NewRegistry().Cron("nope", "echo", nil) })
	mustPanic(t, "Every(500ms)", func() { tasks.NewRegistry().Every(500*time.Millisecond, "echo", nil) })

	// The same spec and name are two schedules with IDs of their own, or
	// in two queues.
	r := tasks.NewRegistry()
	r.Every(time.Minute, "echo", 1)
	r.Every(time.Minute, "echo", 2, tasks.ScheduleOptions{ID: "second"})
	r.Every(time.Minute, "echo", 3, tasks.ScheduleOptions{Options: tasks.Options{Queue: "other"}})
}

func mustPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	fn()
}
