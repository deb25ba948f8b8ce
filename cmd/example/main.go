// Command example is a worker program with handlers of its own: the shape to
// copy when runq should run your code. It builds a tasks.Registry, registers
// its handlers, and hands the registry to runqcli.Main, which gives the binary
// runq's commands and flags (all, serve, worker; --redis, --concurrency, ...):
//
//	go run ./cmd/example --addr 127.0.0.1:8080
//	curl -s -X POST http://127.0.0.1:8080/v1/tasks -H 'Content-Type: application/json' \
//	  -d '{"name":"text.stats","payload":{"text":"to be or not to be"}}'
//	curl -s 'http://127.0.0.1:8080/v1/tasks/<id>?wait=10s'
//
// Its handlers each show one way to register:
//
//	text.stats    typed, with tasks.Handle: {"text": "...", "top": 3} -> {"words", "lines", "top"}
//	json.keys     untyped, with Registry.HandleFunc: any JSON object -> its keys, sorted
//	primes.count  typed, with HandlerOptions (no retries, 5s per attempt): {"below": N} -> {"count", "largest"}
//
// Each refuses invalid input with an error wrapping tasks.ErrSkipRetry, so
// the task fails at once instead of being retried: the same input would fail
// again. A program that runs only the API (`example serve`) needs no
// handlers; a worker needs the handlers of every task name it is sent.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/runq/runq/cmd/runqcli"
	"github.com/runq/runq/tasks"
)

func main() {
	os.Exit(runqcli.Main(newRegistry()))
}

// newRegistry returns the registry of this program's handlers. Registering
// an invalid or duplicate name panics, so a mistake shows at start.
func newRegistry() *tasks.Registry {
	reg := tasks.NewRegistry()
	tasks.Handle(reg, "text.stats", textStats)
	reg.HandleFunc("json.keys", jsonKeys)
	tasks.Handle(reg, "primes.count", countPrimes, tasks.HandlerOptions{
		// Counting is deterministic: an attempt that failed would fail
		// again, so none is retried (a worker lost mid-attempt still is).
		MaxRetries: tasks.NoRetries,
		// It is CPU-bound: bound each attempt; countPrimes stops at ctx.
		Timeout: 5 * time.Second,
	})
	return reg
}

// StatsIn is the payload of text.stats.
type StatsIn struct {
	Text string `json:"text"`
	Top  int    `json:"top,omitempty"` // most frequent words to list; 0 means 3
}

// StatsOut is the result of text.stats.
type StatsOut struct {
	Words int         `json:"words"` // words, as runs of letters and digits
	Lines int         `json:"lines"` // lines; a last line needs no newline
	Top   []WordCount `json:"top"`   // most frequent first, ties alphabetical
}

// WordCount is one word of StatsOut.Top, lower-cased.
type WordCount struct {
	Word  string `json:"word"`
	Count int    `json:"count"`
}

// MaxTop caps StatsIn.Top.
const MaxTop = 100

// textStats counts the words and lines of a text and lists its most frequent
// words. tasks.Handle has decoded the payload already: a payload that is not
// a StatsIn fails without retry before textStats runs.
func textStats(ctx context.Context, t *tasks.Task, in StatsIn) (StatsOut, error) {
	if in.Top < 0 || in.Top > MaxTop {
		return StatsOut{}, fmt.Errorf("top is %d, want 0 to %d: %w", in.Top, MaxTop, tasks.ErrSkipRetry)
	}
	if in.Top == 0 {
		in.Top = 3
	}
	counts := make(map[string]int)
	words := strings.FieldsFunc(strings.ToLower(in.Text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	for _, w := range words {
		counts[w]++
	}
	top := make([]WordCount, 0, len(counts))
	for w, n := range counts {
		top = append(top, WordCount{Word: w, Count: n})
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].Count != top[j].Count {
			return top[i].Count > top[j].Count
		}
		return top[i].Word < top[j].Word
	})
	return StatsOut{Words: len(words), Lines: countLines(in.Text), Top: top[:min(in.Top, len(top))]}, nil
}

// countLines counts lines as an editor shows them: "" has none, "a" and
// "a\n" one, "a\nb" two.
func countLines(s string) int {
	n := strings.Count(s, "\n")
	if s != "" && !strings.HasSuffix(s, "\n") {
		n++
	}
	return n
}

// jsonKeys returns the keys of its payload, which must be a JSON object,
// sorted. As an untyped handler it gets the payload as raw JSON and decodes
// it itself; whatever it returns is stored as JSON.
func jsonKeys(ctx context.Context, t *tasks.Task) (any, error) {
	var obj map[string]json.RawMessage
	// "null" decodes into a nil map without error, so check for that too.
	if err := json.Unmarshal(t.Payload, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("payload must be a JSON object, got %.20s: %w", t.Payload, tasks.ErrSkipRetry)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, nil
}

// PrimesIn is the payload of primes.count.
type PrimesIn struct {
	Below int `json:"below"` // count the primes less than this
}

// PrimesOut is the result of primes.count.
type PrimesOut struct {
	Count   int `json:"count"`
	Largest int `json:"largest,omitempty"` // the largest prime counted; absent when none
}

// MaxPrimesBelow caps PrimesIn.Below (the sieve takes one byte per number).
const MaxPrimesBelow = 50_000_000

// countPrimes counts the primes below in.Below with a sieve of Eratosthenes.
// It checks ctx between rounds, so the attempt ends soon after its timeout
// or a shutdown's grace period instead of running on as a zombie.
func countPrimes(ctx context.Context, t *tasks.Task, in PrimesIn) (PrimesOut, error) {
	if in.Below < 0 || in.Below > MaxPrimesBelow {
		return PrimesOut{}, fmt.Errorf("below is %d, want 0 to %d: %w", in.Below, MaxPrimesBelow, tasks.ErrSkipRetry)
	}
	composite := make([]bool, in.Below)
	var out PrimesOut
	for i := 2; i < in.Below; i++ {
		if i%(1<<16) == 0 && ctx.Err() != nil {
			return PrimesOut{}, context.Cause(ctx)
		}
		if composite[i] {
			continue
		}
		out.Count++
		out.Largest = i
		for j := i * i; j < in.Below; j += i {
			composite[j] = true
		}
	}
	return out, nil
}
