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
		`{"name":"x","NAME":"y"}`:        `unknown field "NAME"`,
		`{"Name":"x"}`:                   `unknown field "Name"`,
		`{"name":"x","bogus":1}`:         `unknown field "bogus"`,
		`{"name":"x","name":"y"}`:        `"name" is given twice`,
		`{"name":"x"} {}`:                "after the object",
		`{"payload":1}`:                  `"name" is required`,
		`{"name":""}`:                    `"name" is required`,
		`[{"name":"x"}]`:                 "not an array",
		`{"name":5}`:                     `field "name": want a string`,
		`{"name":"x","max_retries":-1}`:  `field "max_retries": want a whole number from 0 to 1000`,
		`{"name":"x","max_retries":1.5}`: `field "max_retries"`,
		`{"name":"x","max_retries":"3"}`: `field "max_retries"`,
		`{"name":"x","timeout":"soon"}`:  `field "timeout": invalid duration "soon"`,
		`{"name":"x","timeout":"-1s"}`:   "must not be negative",
		`{"name":"x","result_ttl":60}`:   `field "result_ttl": want a duration string`,
		`{"name":"x","payload":{"a":}}`:  "invalid JSON at byte",
		`{"name":"x"`:                    "invalid JSON",
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
