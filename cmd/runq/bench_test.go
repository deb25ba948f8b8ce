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
		{args: []string{"--steady-rates", "50, 2000", "--steady-for", "3s", "--only", "steady,memory", "--steady-batch-wait", "5ms"}},
		{args: []string{"--steady-batch-wait", "-1ms"}, wantErr: "--steady-batch-wait must be 0 to 1s"},
		{args: []string{"--steady-batch-wait", "1001ms"}, wantErr: "--steady-batch-wait must be 0 to 1s"},
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
		wantRates, wantFor, wantOnly, wantWait := []int{100, 1000, 5000}, 10*time.Second, []string(nil), time.Duration(0)
		switch {
		case tt.wantOnly != nil:
			wantOnly = tt.wantOnly
		case len(tt.args) > 0:
			wantRates, wantFor, wantOnly, wantWait = []int{50, 2000}, 3*time.Second, []string{"steady", "memory"}, 5*time.Millisecond
		}
		if !slices.Equal(cfg.SteadyRates, wantRates) || cfg.SteadyFor != wantFor || !slices.Equal(cfg.Only, wantOnly) || cfg.SteadyBatchWait != wantWait {
			t.Errorf("config of %q: steady rates %v for %v, batch wait %v, only %q; want %v for %v, %v, only %q",
				tt.args, cfg.SteadyRates, cfg.SteadyFor, cfg.SteadyBatchWait, cfg.Only, wantRates, wantFor, wantWait, wantOnly)
		}
	}
}
