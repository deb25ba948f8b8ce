package tasks_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/runq/runq/tasks"
)

func TestRequestJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		r    tasks.Request
		want string
	}{
		{tasks.Request{Name: "echo"}, `{"name":"echo"}`},
		{tasks.Request{Name: "echo", Payload: json.RawMessage(`{"a":1}`), Options: tasks.Options{Queue: "q", MaxRetries: 5,
			Timeout: 90 * time.Second, ResultTTL: time.Hour}},
			`{"name":"echo","payload":{"a":1},"queue":"q","max_retries":5,"timeout":"1m30s","result_ttl":"1h0m0s"}`},
		{tasks.Request{Name: "echo", Options: tasks.Options{MaxRetries: tasks.NoRetries}}, `{"name":"echo","max_retries":0}`},
		{tasks.Request{Name: "echo", Options: tasks.Options{Delay: 90 * time.Second}}, `{"name":"echo","delay":"1m30s"}`},
		{tasks.Request{Name: "echo", Options: tasks.Options{RunAt: time.Date(2030, 1, 2, 15, 4, 5, 250e6, time.UTC)}},
			`{"name":"echo","run_at":"2030-01-02T15:04:05.25Z"}`},
	} {
		out, err := json.Marshal(tt.r)
		if err != nil || string(out) != tt.want {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", tt.r, out, err, tt.want)
		}
		var back tasks.Request
		if err := json.Unmarshal(out, &back); err != nil || back.Name != tt.r.Name || string(back.Payload) != string(tt.r.Payload) ||
			back.Options != tt.r.Options {
			t.Errorf("Unmarshal(%s) = %+v, %v; want %+v", out, back, err, tt.r)
		}
	}
	var r tasks.Request
	if err := json.Unmarshal([]byte(`{"name":"x","queue":null,"max_retries":null,"timeout":null}`), &r); err != nil || r.Options != (tasks.Options{}) {
		t.Errorf("Unmarshal with nulls = %+v, %v; want every option unset", r, err)
	}
}

func TestRequestJSONIsStrict(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"name":"x","NAME":"y"}`:                     `unknown field "NAME"`,
		`{"Name":"x"}`:                                `unknown field "Name"`,
		`{"name":"x","bogus":1}`:                      `unknown field "bogus"`,
		`{"name":"x","name":"y"}`:                     `"name" is given twice`,
		`{"name":"x"} {}`:                             "after the object",
		`{"payload":1}`:                               `"name" is required`,
		`{"name":""}`:                                 `"name" is required`,
		`[{"name":"x"}]`:                              "not an array",
		`{"name":5}`:                                  `field "name": want a string`,
		`{"name":"x","max_retries":-1}`:               `field "max_retries": want a whole number from 0 to 1000`,
		`{"name":"x","max_retries":1.5}`:              `field "max_retries"`,
		`{"name":"x","max_retries":"3"}`:              `field "max_retries"`,
		`{"name":"x","timeout":"soon"}`:               `field "timeout": invalid duration "soon"`,
		`{"name":"x","timeout":"-1s"}`:                "must not be negative",
		`{"name":"x","result_ttl":60}`:                `field "result_ttl": want a duration string`,
		`{"name":"x","delay":"-1s"}`:                  `field "delay": invalid duration "-1s": must not be negative`,
		`{"name":"x","delay":90}`:                     `field "delay": want a duration string`,
		`{"name":"x","run_at":"soon"}`:                `field "run_at": invalid time "soon": use RFC 3339`,
		`{"name":"x","run_at":1700000000}`:            `field "run_at": want an RFC 3339 time string`,
		`{"name":"x","run_at":"2030-01-02 15:04:05"}`: `field "run_at": invalid time`,
		`{"name":"x","run_at":"2030-01-02T15:04:05"}`: `field "run_at": invalid time`, // no zone
		`{"name":"x","payload":{"a":}}`:               "invalid JSON at byte",
		`{"name":"x"`:                                 "invalid JSON",
	} {
		// Called directly, as the API does: json.Unmarshal would check the
		// syntax itself first, with errors of its own wording.
		var r tasks.Request
		err := r.UnmarshalJSON([]byte(body))
		if !errors.Is(err, tasks.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("UnmarshalJSON(%s) = %v, want ErrInvalid containing %q", body, err, want)
		}
	}
}

func TestRequestValidateDelay(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for _, tt := range []struct {
		opts tasks.Options
		want string // "" when valid
	}{
		{tasks.Options{Delay: time.Millisecond}, ""},
		{tasks.Options{Delay: tasks.MaxDelay}, ""},
		{tasks.Options{RunAt: now.Add(-time.Hour)}, ""}, // past: runs now
		{tasks.Options{RunAt: now.Add(tasks.MaxDelay - time.Minute)}, ""},
		{tasks.Options{Delay: time.Second, RunAt: now.Add(time.Hour)}, "give one or the other"},
		{tasks.Options{Delay: -time.Second}, "delay -1s: must be 0 to 8760h0m0s"},
		{tasks.Options{Delay: tasks.MaxDelay + time.Millisecond}, "delay 8760h0m0.001s: must be 0 to"},
		{tasks.Options{RunAt: now.Add(tasks.MaxDelay + time.Hour)}, "run_at " + now.Add(tasks.MaxDelay+time.Hour).Format(time.RFC3339) + ": must be at most 365 days ahead"},
	} {
		r := tasks.Request{Name: "x", Options: tt.opts}
		err := r.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Validate(%+v) = %v, want nil", tt.opts, err)
		case tt.want != "" && (!errors.Is(err, tasks.ErrInvalid) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Validate(%+v) = %v, want ErrInvalid containing %q", tt.opts, err, tt.want)
		}
	}
}
