package tasks_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/runq/runq/tasks"
	"github.com/runq/runq/tasks/builtin"
)

func TestRegistryPanicsOnProgrammerErrors(t *testing.T) {
	t.Parallel()
	noop := func(ctx context.Context, tk *tasks.Task) (any, error) { return nil, nil }
	tests := []struct {
		name string
		reg  func(r *tasks.Registry)
		want string
	}{
		{"empty name", func(r *tasks.Registry) { r.HandleFunc("", noop) }, "task name"},
		{"space", func(r *tasks.Registry) { r.HandleFunc("a b", noop) }, "task name"},
		{"too long", func(r *tasks.Registry) { r.HandleFunc(strings.Repeat("a", 129), noop) }, "task name"},
		{"nil handler", func(r *tasks.Registry) { r.HandleFunc("x", nil) }, "nil handler"},
		{"duplicate", func(r *tasks.Registry) { r.HandleFunc("x", noop); r.HandleFunc("x", noop) }, "already registered"},
		{"two options", func(r *tasks.Registry) { r.HandleFunc("x", noop, tasks.HandlerOptions{}, tasks.HandlerOptions{}) }, "more than one"},
		{"negative retries", func(r *tasks.Registry) { r.HandleFunc("x", noop, tasks.HandlerOptions{MaxRetries: -2}) }, "out of range"},
		{"too many retries", func(r *tasks.Registry) { r.HandleFunc("x", noop, tasks.HandlerOptions{MaxRetries: 1001}) }, "out of range"},
		{"negative timeout", func(r *tasks.Registry) { r.HandleFunc("x", noop, tasks.HandlerOptions{Timeout: -time.Second}) }, "out of range"},
		{"timeout under 1ms", func(r *tasks.Registry) { r.HandleFunc("x", noop, tasks.HandlerOptions{Timeout: time.Nanosecond}) }, "out of range"},
		{"nil typed handler", func(r *tasks.Registry) {
			tasks.Handle[int, int](r, "x", nil)
		}, "nil handler"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				v := recover()
				if s, _ := v.(string); !strings.Contains(s, tt.want) {
					t.Errorf("panic = %v, want one mentioning %q", v, tt.want)
				}
			}()
			tt.reg(tasks.NewRegistry())
		})
	}
}

func TestRegistryNames(t *testing.T) {
	t.Parallel()
	r := tasks.NewRegistry()
	builtin.Register(r)
	tasks.Handle(r, "image.resize/v2", func(ctx context.Context, tk *tasks.Task, in struct{ URL string }) (string, error) {
		return in.URL, nil
	})
	if got := strings.Join(r.Names(), ","); got != "echo,fail,image.resize/v2,sleep" {
		t.Errorf("Names() = %s", got)
	}
}

// TestRegistrySample checks the payload a registry offers for each
// handler: the zero value of a typed handler's input, none for an untyped
// one.
func TestRegistrySample(t *testing.T) {
	t.Parallel()
	r := tasks.NewRegistry()
	builtin.Register(r)
	for name, want := range map[string]string{"sleep": `{"ms":0}`, "fail": `{"message":""}`, "echo": "", "nope": ""} {
		got, ok := r.Sample(name)
		if string(got) != want || ok != (want != "") {
			t.Errorf("Sample(%q) = %s, %v; want %q", name, got, ok, want)
		}
	}
}
