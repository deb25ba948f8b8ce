package main

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runq/runq/cmd/internal/cli"
)

// TestBenchFlags parses `runq bench` flags into a bench.Config: defaults,
// the steady rows' flags, and usage errors for values out of range.
func TestBenchFlags(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args    []string
		wantErr string // contained in a usage error; "" for none
		// wantOnly, when set, is the Config.Only wanted, the rest default.
		wantOnly []string
	}{
		{args: nil},
		{args: []string{"--steady-rates", "50, 2000", "--steady-for", "3s", "--only", "steady,memory"}},
		{args: []string{"--steady-rates", "100,0"}, wantErr: `--steady-rates: "0" is not a rate`},
		{args: []string{"--steady-rates", ""}, wantErr: `--steady-rates: "" is not a rate`},
		{args: []string{"--steady-for", "1ms"}, wantErr: "--steady-for must be 100ms to 1h"},
		{args: []string{"--rates", "x"}, wantErr: `--rates: "x" is not a rate`},
		{args: []string{"--only", "steady,bogus"}, wantErr: `--only: unknown group "bogus"`},
		{args: []string{"--only", "drainsizes"}, wantOnly: []string{"drainsizes"}},
		{args: []string{"--only", "priorities"}, wantOnly: []string{"priorities"}},
	} {
		f, err := parseBenchFlags("runq", tt.args, io.Discard)
		if err != nil {
			t.Fatalf("parseBenchFlags(%q) = %v", tt.args, err)
		}
		cfg, err := f.config()
		if tt.wantErr != "" {
			if !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("config of %q = %v, want a usage error with %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("config of %q = %v", tt.args, err)
			continue
		}
		wantRates, wantFor, wantOnly := []int{100, 1000, 5000}, 10*time.Second, []string(nil)
		switch {
		case tt.wantOnly != nil:
			wantOnly = tt.wantOnly
		case len(tt.args) > 0:
			wantRates, wantFor, wantOnly = []int{50, 2000}, 3*time.Second, []string{"steady", "memory"}
		}
		if !slices.Equal(cfg.SteadyRates, wantRates) || cfg.SteadyFor != wantFor || !slices.Equal(cfg.Only, wantOnly) {
			t.Errorf("config of %q: steady rates %v for %v, only %q; want %v for %v, only %q",
				tt.args, cfg.SteadyRates, cfg.SteadyFor, cfg.Only, wantRates, wantFor, wantOnly)
		}
	}
}
