package api

import (
	"errors"
	"testing"
)

func TestPublic(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"tasks: invalid request: name \"a b\": bad":                 "invalid request: name \"a b\": bad",
		"tasks[1]: tasks: no worker handles this task name: \"x\"":  "tasks[1]: no worker handles this task name: \"x\"",
		"tasks: invalid request: unknown field \"broker: x\"":       "invalid request: unknown field \"broker: x\"",
		"tasks: invalid request: unknown field \"a\\\": tasks: b\"": "invalid request: unknown field \"a\\\": tasks: b\"",
		"broker: tasks: results: ":                                  "",
		"tasks: get: broker: get 1: results: task not found":        "get: get 1: task not found",
		"name \"tasks: \"": "name \"tasks: \"",
	} {
		if got := public(errors.New(in)); got != want {
			t.Errorf("public(%q) = %q, want %q", in, got, want)
		}
	}
}
