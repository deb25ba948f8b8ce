package tasks

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/runq/runq/broker"
)

// Limits of a task name's rate and cap (HandlerOptions.Rate, MaxRunning).
const (
	MaxRateCount  = 1_000_000            // the largest N of a rate "N/s"
	MaxMaxRunning = broker.MaxMaxRunning // the largest MaxRunning
)

// ratePeriods are the periods a rate may name, by their suffix.
var ratePeriods = map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}

// parseRate reads a rate, "N/s", "N/m" or "N/h" with N from 1 to
// MaxRateCount, as a count per period; "" is none. An error wraps
// ErrInvalid.
func parseRate(s string) (n int, per time.Duration, err error) {
	if s == "" {
		return 0, 0, nil
	}
	count, unit, _ := strings.Cut(s, "/")
	n, err = strconv.Atoi(count)
	per, ok := ratePeriods[unit]
	if err != nil || !ok || n < 1 || n > MaxRateCount || strings.HasPrefix(count, "+") {
		return 0, 0, fmt.Errorf("%w: rate %q: want N/s, N/m or N/h, N from 1 to %d", ErrInvalid, truncate(s, 32), MaxRateCount)
	}
	return n, per, nil
}

// formatRate renders a count per period as parseRate reads it.
func formatRate(n int, per time.Duration) string {
	for unit, d := range ratePeriods {
		if d == per && n > 0 {
			return strconv.Itoa(n) + "/" + unit
		}
	}
	if n <= 0 || per <= 0 {
		return ""
	}
	return strconv.Itoa(n) + "/" + per.String() // written by hand: not one of ours
}

// validateLimits checks a rate and a MaxRunning as HandlerOptions hold
// them.
func validateLimits(rate string, maxRunning int) error {
	if _, _, err := parseRate(rate); err != nil {
		return err
	}
	if maxRunning < 0 || maxRunning > MaxMaxRunning {
		return fmt.Errorf("%w: max_running %d: must be 0 to %d", ErrInvalid, maxRunning, MaxMaxRunning)
	}
	return nil
}

// SetRate replaces the Rate of name's handler (see HandlerOptions; ""
// lifts it), and SetMaxRunning its MaxRunning (0 lifts it), for limits
// chosen when the program starts rather than written in its code, such as
// command-line flags. They must be called before the Pool runs. A name
// with no handler is ErrUnknownName; a limit out of range, ErrInvalid.
func (r *Registry) SetRate(name, rate string) error {
	if err := validateLimits(rate, 0); err != nil {
		return err
	}
	return r.setOptions(name, func(o *HandlerOptions) { o.Rate = rate })
}

// SetMaxRunning: see SetRate.
func (r *Registry) SetMaxRunning(name string, n int) error {
	if err := validateLimits("", n); err != nil {
		return err
	}
	return r.setOptions(name, func(o *HandlerOptions) { o.MaxRunning = n })
}

// setOptions changes the options of name's handler with set.
func (r *Registry) setOptions(name string, set func(*HandlerOptions)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, ok := r.handlers[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownName, truncate(name, 64))
	}
	set(&h.opts)
	r.handlers[name] = h
	return nil
}

// nameLimits returns the limits of every name of reg as the broker writes
// them: a zero NameLimit for a name without, so that a limit a handler no
// longer declares is lifted.
func (r *Registry) nameLimits() map[string]broker.NameLimit {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make(map[string]broker.NameLimit, len(r.handlers))
	for name, h := range r.handlers {
		n, per, _ := parseRate(h.opts.Rate) // checked when registered
		out[name] = broker.NameLimit{MaxRunning: h.opts.MaxRunning, Rate: n, Per: per}
	}
	return out
}

// writeLimits writes the limits of the pool's task names in each of its
// queues, where the scripts that start and end attempts enforce them.
func (p *Pool) writeLimits(ctx context.Context) error {
	limits := p.reg.nameLimits()
	for _, q := range p.cfg.Queues {
		if err := p.b.SetLimits(ctx, q, limits); err != nil {
			return err
		}
	}
	return nil
}

// NameLimits is a task name's limits in one queue, with its tasks that
// run under its cap and those held waiting for a slot, as GET /v1/queues
// shows them.
type NameLimits struct {
	Name       string `json:"name"`
	Rate       string `json:"rate,omitempty"`        // "10/s"; "" when none
	MaxRunning int    `json:"max_running,omitempty"` // 0 when none
	Running    int64  `json:"running"`               // tasks holding a slot of MaxRunning
	Held       int64  `json:"held"`                  // tasks waiting for a slot
}

// nameLimitsOf renders the broker's states of limited names.
func nameLimitsOf(states []broker.NameState) []NameLimits {
	if len(states) == 0 {
		return nil
	}
	out := make([]NameLimits, len(states))
	for i, s := range states {
		out[i] = NameLimits{Name: s.Name, Rate: formatRate(s.Rate, s.Per), MaxRunning: s.MaxRunning,
			Running: s.Running, Held: s.Held}
	}
	return out
}
