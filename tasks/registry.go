package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"time"
)

// HandlerFunc runs one attempt of a task. Its result is stored as JSON; an
// error fails the attempt (retried unless it wraps ErrSkipRetry). ctx ends
// at the task's timeout, when the lease is lost, or at shutdown. Handlers
// run on goroutines that the pool reuses for later attempts: a handler
// that calls runtime.LockOSThread or sets pprof goroutine labels must undo
// them before it returns.
type HandlerFunc func(ctx context.Context, t *Task) (any, error)

// HandlerOptions are a handler's defaults for tasks submitted without them.
type HandlerOptions struct {
	// MaxRetries is how many times a failed attempt is retried; 0 means
	// the submitter's default (3); NoRetries means none.
	MaxRetries int `json:"max_retries,omitempty"`
	// Timeout bounds each attempt; 0 means the submitter's default (30m).
	Timeout time.Duration `json:"timeout,omitempty"`
}

// NoRetries as HandlerOptions.MaxRetries means a failed attempt is final.
const NoRetries = -1

// MaxNameLen is the longest task name.
const MaxNameLen = 128

var taskName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:/-]*$`)

// ValidName reports whether name can name a task: 1 to 128 ASCII letters,
// digits and '_', '.', ':', '/', '-', starting with a letter or digit.
func ValidName(name string) error {
	if len(name) == 0 || len(name) > MaxNameLen || !taskName.MatchString(name) {
		return fmt.Errorf("%w: task name %q: use 1-%d letters, digits, '_', '.', ':', '/' or '-', starting with a letter or digit",
			ErrInvalid, truncate(name, 64), MaxNameLen)
	}
	return nil
}

type handler struct {
	fn   HandlerFunc
	opts HandlerOptions
}

// Registry maps task names to handlers, like http.ServeMux maps paths.
// Registering is for program start; lookups are safe at any time.
type Registry struct {
	mu       sync.RWMutex
	handlers map[string]handler
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{handlers: make(map[string]handler)}
}

// HandleFunc registers fn for tasks called name. An invalid or duplicate
// name panics, as a duplicate pattern does in http.ServeMux. At most one
// HandlerOptions may follow.
func (r *Registry) HandleFunc(name string, fn HandlerFunc, opts ...HandlerOptions) {
	if err := ValidName(name); err != nil {
		panic(err.Error())
	}
	if fn == nil {
		panic("tasks: nil handler for " + name)
	}
	if len(opts) > 1 {
		panic("tasks: more than one HandlerOptions for " + name)
	}
	h := handler{fn: fn}
	if len(opts) == 1 {
		h.opts = opts[0]
	}
	if h.opts.MaxRetries < NoRetries || h.opts.Timeout < 0 {
		panic("tasks: negative MaxRetries or Timeout for " + name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.handlers[name]; dup {
		panic("tasks: handler already registered for " + name)
	}
	r.handlers[name] = h
}

// Handle registers a typed handler: the payload is decoded into In (a payload
// that does not decode fails the task without retry) and the Out returned is
// stored as the result.
func Handle[In, Out any](r *Registry, name string, fn func(ctx context.Context, t *Task, in In) (Out, error), opts ...HandlerOptions) {
	r.HandleFunc(name, func(ctx context.Context, t *Task) (any, error) {
		var in In
		if err := json.Unmarshal(t.Payload, &in); err != nil {
			return nil, fmt.Errorf("%s: %w", payloadError(err), ErrSkipRetry)
		}
		return fn(ctx, t, in)
	}, opts...)
}

// payloadError explains why a payload does not decode, in JSON terms rather
// than Go types.
func payloadError(err error) string {
	var typ *json.UnmarshalTypeError
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("payload does not decode: field %q: got %s, want %s", typ.Field, typ.Value, typ.Type.Kind())
	case errors.As(err, &typ):
		return fmt.Sprintf("payload does not decode: got %s, want %s", typ.Value, typ.Type.Kind())
	case errors.As(err, &syn):
		return "payload does not decode: invalid JSON"
	}
	return "payload does not decode: " + err.Error()
}

// Names returns the registered task names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.handlers))
	for n := range r.handlers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (r *Registry) lookup(name string) (handler, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	h, ok := r.handlers[name]
	return h, ok
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
