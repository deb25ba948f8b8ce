package tasks

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/robfig/cron/v3"
)

// ScheduleOptions are a schedule's settings, for Registry.Cron and Every.
type ScheduleOptions struct {
	// Options are those of every task the schedule creates, as a
	// submission's: a zero field takes the handler's default, then
	// runq's (Queue "default").
	Options
	// ID names the schedule across processes: every process that declares
	// a schedule of that ID and queue shares its ticks, and each tick
	// creates one task. "" means the spec and the name, "@every 1m
	// report.send", so that the same declaration in every replica (or
	// on every command line) is one schedule.
	ID string
}

// MaxScheduleIDLen is the longest schedule ID.
const MaxScheduleIDLen = 200

// schedule is a declared schedule: when its ticks fall, and the task each
// tick creates.
type schedule struct {
	id    string
	spec  string // as written, in fields separated by one space
	times timetable
	req   Request // Queue set: where its tasks go
}

// Cron declares a schedule on r: at each tick of spec, one task called
// name with payload (encoded as JSON; nil is null) is created, as if
// submitted, by one of the processes that declare the schedule, whichever
// asks first; a Pool of r runs r's schedules. The spec is a robfig/cron
// spec, read in UTC unless it names a zone:
//
//	"*/5 * * * *"                  every 5 minutes (minute hour day month weekday)
//	"30 */5 * * * *"               at second 30 of every fifth minute (seconds first)
//	"CRON_TZ=Europe/Paris 0 9 * * MON-FRI"   9:00 on weekdays, Paris time (also TZ=)
//	"@hourly", "@daily", "@weekly", "@monthly", "@yearly"
//	"@every 90s"                   every 90 seconds since the Unix epoch (see Every)
//
// Ticks missed while no process runs the schedule are skipped, and logged
// when one starts, never run late. The task's name need not be handled by
// r; a tick whose name no worker has registered creates nothing.
//
// A bad spec, name, payload or option, a second ScheduleOptions, or an ID
// r already has in that queue panics, as HandleFunc's errors do: a
// program's schedules are part of its code. AddCron returns the error
// instead.
func (r *Registry) Cron(spec, name string, payload any, opts ...ScheduleOptions) {
	if err := r.AddCron(spec, name, payload, opts...); err != nil {
		panic(err.Error())
	}
}

// Every declares a schedule that ticks every d, at the multiples of d
// since the Unix epoch (every replica agrees on them, and a restart does
// not shift them): Every(time.Hour, ...) ticks on the hour, UTC. It is
// Cron with the spec "@every " + d; d is a whole number of seconds, at
// least one.
func (r *Registry) Every(d time.Duration, name string, payload any, opts ...ScheduleOptions) {
	r.Cron("@every "+shortDuration(d), name, payload, opts...)
}

// shortDuration writes d without its zero minutes and seconds: "1h"
// rather than "1h0m0s", as a spec is written.
func shortDuration(d time.Duration) string {
	s := d.String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

// AddCron is Cron returning an error, wrapping ErrInvalid, rather than
// panicking: for schedules read at run time, such as runq's --cron flags.
func (r *Registry) AddCron(spec, name string, payload any, opts ...ScheduleOptions) error {
	s, err := newSchedule(spec, name, payload, opts)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.schedules {
		if o.id == s.id && o.req.Queue == s.req.Queue {
			return fmt.Errorf("%w: schedule %q of queue %s declared twice: give one a ScheduleOptions.ID", ErrInvalid, s.id, s.req.Queue)
		}
	}
	r.schedules = append(r.schedules, s)
	return nil
}

// newSchedule checks a declaration and makes its schedule.
func newSchedule(spec, name string, payload any, opts []ScheduleOptions) (*schedule, error) {
	if len(opts) > 1 {
		return nil, fmt.Errorf("%w: more than one ScheduleOptions for schedule %q", ErrInvalid, spec)
	}
	var o ScheduleOptions
	if len(opts) == 1 {
		o = opts[0]
	}
	norm, times, err := parseSpec(spec)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload of schedule %q does not encode as JSON: %v", ErrInvalid, norm, err)
	}
	req := Request{Name: name, Payload: raw, Options: o.Options}
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("schedule %q: %w", norm, err)
	}
	req.Queue = first(req.Queue, DefaultQueue)
	id := o.ID
	if id == "" {
		id = norm + " " + name
	}
	if err := validScheduleID(id); err != nil {
		return nil, err
	}
	return &schedule{id: id, spec: norm, times: times, req: req}, nil
}

// validScheduleID reports an ID that is empty, longer than
// MaxScheduleIDLen, or holds what is not printable UTF-8.
func validScheduleID(id string) error {
	ok := id != "" && len(id) <= MaxScheduleIDLen && utf8.ValidString(id)
	for _, c := range id {
		ok = ok && unicode.IsPrint(c)
	}
	if !ok {
		return fmt.Errorf("%w: schedule ID %q: use 1-%d bytes of printable UTF-8", ErrInvalid, truncate(id, 64), MaxScheduleIDLen)
	}
	return nil
}

// allSchedules returns r's schedules.
func (r *Registry) allSchedules() []*schedule {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*schedule(nil), r.schedules...)
}

// timetable tells when a schedule ticks: Next returns its first tick
// strictly after t, or the zero time when there is none.
type timetable interface {
	Next(t time.Time) time.Time
}

// every ticks at the multiples of d since the Unix epoch.
type every struct{ d time.Duration }

func (e every) Next(t time.Time) time.Time {
	n := t.UnixNano() / int64(e.d) // t is after 1970: the quotient rounds down
	return time.Unix(0, (n+1)*int64(e.d)).UTC()
}

// cronParser reads robfig/cron specs: 5 fields, or 6 with seconds first,
// or a descriptor, after an optional CRON_TZ= or TZ= zone.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ValidSpec reports whether spec is a schedule Cron takes (see Cron); its
// error wraps ErrInvalid and says what is wrong.
func ValidSpec(spec string) error {
	_, _, err := parseSpec(spec)
	return err
}

// parseSpec reads spec and returns it with its fields separated by one
// space, and its timetable. A spec without a zone is read in UTC: the
// callers of Next pass UTC times, which robfig's schedules of no zone keep.
func parseSpec(spec string) (string, timetable, error) {
	fields := strings.Fields(spec)
	norm := strings.Join(fields, " ")
	bad := func(format string, args ...any) (string, timetable, error) {
		return "", nil, fmt.Errorf("%w: schedule %q: %s", ErrInvalid, truncate(norm, 80), fmt.Sprintf(format, args...))
	}
	rest := fields
	zoned := len(fields) > 0 && (strings.HasPrefix(fields[0], "CRON_TZ=") || strings.HasPrefix(fields[0], "TZ="))
	if zoned {
		rest = fields[1:]
	}
	switch {
	case len(rest) == 0:
		return bad("no schedule: want 5 fields (minute hour day month weekday), 6 (seconds first) or a descriptor such as @hourly")
	case rest[0] == "@every":
		if zoned {
			return bad("@every ticks since the Unix epoch, in no zone: drop the CRON_TZ=")
		}
		if len(rest) != 2 {
			return bad("want @every DURATION, such as @every 90s")
		}
		d, err := time.ParseDuration(rest[1])
		if err != nil || d < time.Second || d%time.Second != 0 {
			return bad("@every takes a whole number of seconds, at least 1s, such as 90s or 1h")
		}
		return norm, every{d}, nil
	case strings.HasPrefix(rest[0], "@") && len(rest) > 1:
		return bad("a descriptor stands alone")
	case !strings.HasPrefix(rest[0], "@") && len(rest) != 5 && len(rest) != 6:
		return bad("%d fields: want 5 (minute hour day month weekday) or 6 (seconds first)", len(rest))
	}
	sched, err := cronParser.Parse(norm)
	if err != nil {
		return bad("%v", err)
	}
	if sched.Next(time.Now().UTC()).IsZero() {
		return bad("it never ticks")
	}
	return norm, sched, nil
}
