package api_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/runq/runq/tasks"
)

// startSchedules runs a pool, as a process of its own would, that
// declares one schedule: echo every second into queue "cron", with a
// payload and a timeout. It takes tasks from a queue nothing fills.
func (s *bundle) startSchedules(t *testing.T) {
	t.Helper()
	reg := tasks.NewRegistry()
	reg.HandleFunc("echo", func(ctx context.Context, t *tasks.Task) (any, error) { return t.Payload, nil })
	reg.Every(time.Second, "echo", map[string]string{"from": "cron"},
		tasks.ScheduleOptions{Options: tasks.Options{Queue: "cron", Timeout: time.Minute}})
	p := tasks.NewPool(s.be.Client, reg, tasks.PoolConfig{Queues: []string{"nothing"}, Prefix: s.be.Prefix, Logger: quiet, Grace: 100 * time.Millisecond})
	run(t, "Pool", p.Run)
}

// schedules reads GET /v1/schedules.
func (s *bundle) schedules(t *testing.T) []tasks.ScheduleInfo {
	t.Helper()
	var out struct{ Schedules []tasks.ScheduleInfo }
	decodeJSON(t, serve(s.app, newRequest("GET", "/v1/schedules", "", "")), 200, &out)
	return out.Schedules
}

// waitTicked waits until the schedule of startSchedules has created a
// task, and returns the listing then.
func (s *bundle) waitTicked(t *testing.T) tasks.ScheduleInfo {
	t.Helper()
	var si tasks.ScheduleInfo
	eventually(t, "the schedule listed with its first run", func() bool {
		list := s.schedules(t)
		if len(list) == 1 {
			si = list[0]
		}
		return len(list) == 1 && !si.LastRun.IsZero()
	})
	return si
}

func TestListSchedulesOverHTTP(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *bundle) {
		if got := s.schedules(t); got == nil || len(got) != 0 {
			t.Errorf("GET /v1/schedules with none declared = %#v, want []", got)
		}
		s.startSchedules(t)
		si := s.waitTicked(t)
		if si.ID != "@every 1s echo" || si.Spec != "@every 1s" || si.Name != "echo" || si.Queue != "cron" ||
			string(si.Payload) != `{"from":"cron"}` || si.Timeout != time.Minute || si.MaxRetries != 0 || si.ResultTTL != 0 {
			t.Errorf("GET /v1/schedules = %+v, want the declaration of startSchedules", si)
		}
		if !si.NextRun.After(si.LastRun) || si.NextRun.Sub(si.LastRun)%time.Second != 0 || time.Since(si.DeclaredAt) > 10*time.Second {
			t.Errorf("GET /v1/schedules: last run %v, next %v, declared %v; want whole seconds apart, declared now", si.LastRun, si.NextRun, si.DeclaredAt)
		}
		rec := get(t, s.app, "/v1/tasks/"+si.LastTaskID.String())
		if rec.Name != "echo" || rec.Queue != "cron" || string(rec.Payload) != `{"from":"cron"}` || rec.Timeout != "1m0s" {
			t.Errorf("the last task of the schedule = %+v, want echo in cron with its payload and timeout", rec)
		}
		var raw struct{ Schedules []map[string]json.RawMessage }
		decodeJSON(t, serve(s.app, newRequest("GET", "/v1/schedules", "", "")), 200, &raw)
		if m := raw.Schedules[0]; string(m["timeout"]) != `"1m0s"` || m["result_ttl"] != nil || m["max_retries"] != nil {
			t.Errorf("GET /v1/schedules: timeout %s, result_ttl %s, max_retries %s; want \"1m0s\" and the unset ones left out",
				m["timeout"], m["result_ttl"], m["max_retries"])
		}
	})
}
