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

// HandlerOptions are a handler's defaults for the tasks of its name that
// are submitted without them. A zero field is unset: the client's default
// applies (see the package comment).
type HandlerOptions struct {
	// MaxRetries is how many times a failed attempt is retried; 0 means
	// the client's default (3), NoRetries none.
	MaxRetries int
	// Timeout bounds each attempt; 0 means the client's default (30m).
	Timeout time.Duration
}

// validate reports options out of range, wrapping ErrInvalid; a Request's
// are checked by the same rules.
func (o HandlerOptions) validate() error {
	if n := o.MaxRetries; n < NoRetries || n > MaxRetriesLimit {
		return fmt.Errorf("%w: max_retries %d: must be 0 to %d, or NoRetries", ErrInvalid, n, MaxRetriesLimit)
	}
	if t := o.Timeout; t < 0 || t > MaxTimeout || (t > 0 && t < time.Millisecond) {
		return fmt.Errorf("%w: timeout %s: must be 1ms to %s", ErrInvalid, t, MaxTimeout)
	}
	return nil
}

// handlerDefaults is HandlerOptions as workers record them in Redis for
// the clients of every process.
type handlerDefaults struct {
	MaxRetries int           `json:"max_retries,omitempty"`
	Timeout    time.Duration `json:"timeout,omitempty"`
}

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
	fn     HandlerFunc
	opts   HandlerOptions
	sample json.RawMessage // a payload that fits a typed handler: its In's zero value; nil if untyped
}

// Registry maps task names to handlers, like http.ServeMux maps paths, and
// holds the schedules that create tasks periodically (see Cron).
// Registering is for program start; lookups are safe at any time.
type Registry struct {
	mu        sync.RWMutex
	handlers  map[string]handler
	schedules []*schedule // see Cron
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{handlers: make(map[string]handler)}
}

// HandleFunc registers fn for tasks called name. An invalid or duplicate
// name panics, as a duplicate pattern does in http.ServeMux. At most one
// HandlerOptions may follow.
func (r *Registry) HandleFunc(name string, fn HandlerFunc, opts ...HandlerOptions) {
	r.handle(name, handler{fn: fn}, opts)
}

func (r *Registry) handle(name string, h handler, opts []HandlerOptions) {
	fn := h.fn
	if err := ValidName(name); err != nil {
		panic(err.Error())
	}
	if fn == nil {
		panic("tasks: nil handler for " + name)
	}
	if len(opts) > 1 {
		panic("tasks: more than one HandlerOptions for " + name)
	}
	if len(opts) == 1 {
		h.opts = opts[0]
	}
	if err := h.opts.validate(); err != nil {
		panic(fmt.Sprintf("tasks: options of %s out of range: %v", name, err))
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
	if fn == nil {
		panic("tasks: nil handler for " + name)
	}
	var zero In
	sample, _ := json.Marshal(zero) // a type that does not encode has no sample
	r.handle(name, handler{sample: sample, fn: func(ctx context.Context, t *Task) (any, error) {
		var in In
		if err := json.Unmarshal(t.Payload, &in); err != nil {
			return nil, fmt.Errorf("%s: %w", payloadError(err), ErrSkipRetry)
		}
		return fn(ctx, t, in)
	}}, opts)
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

// Sample returns a payload that the handler of name takes: the JSON of its
// input type's zero value for a handler registered with Handle, and false
// for one registered with HandleFunc (which takes any JSON) or no handler.
func (r *Registry) Sample(name string) (json.RawMessage, bool) {
	h, ok := r.lookup(name)
	return h.sample, ok && h.sample != nil
}

func (r *Registry) lookup(name string) (handler, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	h, ok := r.handlers[name]
	return h, ok
}
