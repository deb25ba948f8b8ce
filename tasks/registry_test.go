package tasks_test

import (
	"context"
	"strings"
	"testing"

	"github.com/runq/runq/tasks"
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
		{"negative retries", func(r *tasks.Registry) { r.HandleFunc("x", noop, tasks.HandlerOptions{MaxRetries: -2}) }, "negative"},
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
	tasks.RegisterBuiltins(r)
	tasks.Handle(r, "image.resize/v2", func(ctx context.Context, tk *tasks.Task, in struct{ URL string }) (string, error) {
		return in.URL, nil
	})
	if got := strings.Join(r.Names(), ","); got != "echo,fail,image.resize/v2,sleep" {
		t.Errorf("Names() = %s", got)
	}
}
