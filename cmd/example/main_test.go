package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/runq/runq/cmd/internal/proctest"
	"github.com/runq/runq/tasks"
)

func TestNewRegistry(t *testing.T) {
	t.Parallel()
	want := []string{"json.keys", "primes.count", "text.stats"}
	if got := newRegistry().Names(); !slices.Equal(got, want) {
		t.Errorf("newRegistry().Names() = %v, want %v", got, want)
	}
}

func TestTextStats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      StatsIn
		want    StatsOut
		skipErr bool // want an error wrapping tasks.ErrSkipRetry
	}{
		{name: "empty", in: StatsIn{}, want: StatsOut{Top: []WordCount{}}},
		{name: "one line without newline", in: StatsIn{Text: "a"},
			want: StatsOut{Words: 1, Lines: 1, Top: []WordCount{{"a", 1}}}},
		{name: "one line with newline", in: StatsIn{Text: "a\n"},
			want: StatsOut{Words: 1, Lines: 1, Top: []WordCount{{"a", 1}}}},
		{name: "blank lines count", in: StatsIn{Text: "\n\n"}, want: StatsOut{Lines: 2, Top: []WordCount{}}},
		{name: "case and punctuation", in: StatsIn{Text: "Hello, hello!\nWorld... (world) HELLO 42"},
			want: StatsOut{Words: 6, Lines: 2, Top: []WordCount{{"hello", 3}, {"world", 2}, {"42", 1}}}},
		{name: "ties alphabetical, default top 3", in: StatsIn{Text: "d c b a d c b"},
			want: StatsOut{Words: 7, Lines: 1, Top: []WordCount{{"b", 2}, {"c", 2}, {"d", 2}}}},
		{name: "top 1", in: StatsIn{Text: "x y y", Top: 1},
			want: StatsOut{Words: 3, Lines: 1, Top: []WordCount{{"y", 2}}}},
		{name: "top above word count", in: StatsIn{Text: "x", Top: MaxTop},
			want: StatsOut{Words: 1, Lines: 1, Top: []WordCount{{"x", 1}}}},
		{name: "unicode", in: StatsIn{Text: "Ça va? ça va."},
			want: StatsOut{Words: 4, Lines: 1, Top: []WordCount{{"va", 2}, {"ça", 2}}}},
		{name: "negative top", in: StatsIn{Text: "x", Top: -1}, skipErr: true},
		{name: "top too large", in: StatsIn{Text: "x", Top: MaxTop + 1}, skipErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := textStats(context.Background(), &tasks.Task{Name: "text.stats", Attempt: 1}, tt.in)
			if tt.skipErr {
				if !errors.Is(err, tasks.ErrSkipRetry) {
					t.Errorf("textStats(%+v) error = %v, want one wrapping tasks.ErrSkipRetry", tt.in, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("textStats(%+v) = %+v, %v, want %+v, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestJSONKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		payload string
		want    []string // nil: want an error wrapping tasks.ErrSkipRetry
	}{
		{`{"b": 1, "a": {"z": 2}, "c": null}`, []string{"a", "b", "c"}},
		{`{}`, []string{}},
		{`null`, nil},
		{`[1, 2]`, nil},
		{`"text"`, nil},
		{`42`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.payload, func(t *testing.T) {
			t.Parallel()
			got, err := jsonKeys(context.Background(), &tasks.Task{Name: "json.keys", Payload: json.RawMessage(tt.payload)})
			if tt.want == nil {
				if !errors.Is(err, tasks.ErrSkipRetry) {
					t.Errorf("jsonKeys(%s) = %v, %v, want an error wrapping tasks.ErrSkipRetry", tt.payload, got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("jsonKeys(%s) = %#v, %v, want %#v, nil", tt.payload, got, err, tt.want)
			}
		})
	}
}

func TestCountPrimes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		below   int
		want    PrimesOut
		skipErr bool
	}{
		{below: 0, want: PrimesOut{}},
		{below: 2, want: PrimesOut{}},
		{below: 3, want: PrimesOut{Count: 1, Largest: 2}},
		{below: 10, want: PrimesOut{Count: 4, Largest: 7}},
		{below: 100, want: PrimesOut{Count: 25, Largest: 97}},
		{below: 1_000_000, want: PrimesOut{Count: 78_498, Largest: 999_983}},
		{below: -1, skipErr: true},
		{below: MaxPrimesBelow + 1, skipErr: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.below), func(t *testing.T) {
			t.Parallel()
			got, err := countPrimes(context.Background(), &tasks.Task{Name: "primes.count"}, PrimesIn{Below: tt.below})
			if tt.skipErr {
				if !errors.Is(err, tasks.ErrSkipRetry) {
					t.Errorf("countPrimes(%d) error = %v, want one wrapping tasks.ErrSkipRetry", tt.below, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("countPrimes(%d) = %+v, %v, want %+v, nil", tt.below, got, err, tt.want)
			}
		})
	}
}

// TestCountPrimesStopsAtContext checks that a cancelled attempt returns the
// context's cause rather than running to the end.
func TestCountPrimesStopsAtContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(tasks.ErrTimeout)
	got, err := countPrimes(ctx, &tasks.Task{Name: "primes.count"}, PrimesIn{Below: 1 << 20})
	if !errors.Is(err, tasks.ErrTimeout) {
		t.Errorf("countPrimes(cancelled, %d) = %+v, %v, want error %v", 1<<20, got, err, tasks.ErrTimeout)
	}
}

// exampleBin is this command, built once for the package's tests.
var exampleBin = &proctest.Binary{Pkg: "github.com/runq/runq/cmd/example"}

func TestMain(m *testing.M) {
	code := m.Run()
	exampleBin.Remove()
	os.Exit(code)
}

// TestBinary builds the example, runs it with an embedded Redis, submits
// tasks over HTTP and stops it with SIGTERM.
func TestBinary(t *testing.T) {
	t.Parallel()
	p, base := proctest.StartAPI(t, exampleBin.Path(t), "--addr", "127.0.0.1:0", "--grace", "5s")

	tests := []struct {
		name, task     string
		payload        any
		want           any    // the result, decoded into a value of its type
		wantErr        string // for a failed task: part of its error
		wantMaxRetries int
		wantTimeout    time.Duration
	}{
		{name: "typed", task: "text.stats", payload: StatsIn{Text: "b a b\nc", Top: 2},
			want: StatsOut{Words: 4, Lines: 2, Top: []WordCount{{"b", 2}, {"a", 1}}}, wantMaxRetries: 3, wantTimeout: 30 * time.Minute},
		{name: "untyped", task: "json.keys", payload: map[string]int{"y": 1, "x": 2},
			want: []string{"x", "y"}, wantMaxRetries: 3, wantTimeout: 30 * time.Minute},
		{name: "handler options", task: "primes.count", payload: PrimesIn{Below: 100},
			want: PrimesOut{Count: 25, Largest: 97}, wantMaxRetries: 0, wantTimeout: 5 * time.Second},
		{name: "invalid input", task: "text.stats", payload: StatsIn{Top: -1},
			wantErr: "top is -1", wantMaxRetries: 3, wantTimeout: 30 * time.Minute},
		{name: "payload not an object", task: "json.keys", payload: []int{1},
			wantErr: "payload must be a JSON object", wantMaxRetries: 3, wantTimeout: 30 * time.Minute},
		{name: "payload of the wrong type", task: "text.stats", payload: map[string]int{"text": 1},
			wantErr: "does not decode", wantMaxRetries: 3, wantTimeout: 30 * time.Minute},
	}
	t.Run("tasks", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				rec := proctest.Submit(t, base, tt.task, tt.payload)
				if rec.MaxRetries != tt.wantMaxRetries || time.Duration(rec.Timeout) != tt.wantTimeout {
					t.Errorf("submit %s: max_retries, timeout = %d, %s, want %d, %s",
						tt.task, rec.MaxRetries, time.Duration(rec.Timeout), tt.wantMaxRetries, tt.wantTimeout)
				}
				proctest.CheckOutcome(t, proctest.WaitDone(t, base, rec.ID), tt.want, tt.wantErr)
			})
		}
	})

	p.Signal(t, syscall.SIGTERM)
	if code := p.ExitCode(t, 20*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
}
