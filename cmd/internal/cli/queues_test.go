package cli

import (
	"maps"
	"slices"
	"testing"
)

// TestQueuesFlag parses --queues lines: strict lists and weighted ones are
// read, and a mix, a bad or missing weight, or a queue listed twice is
// refused with the value left as it was. Names are checked later, by
// validate (TestRunUsageErrors).
func TestQueuesFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line    string
		queues  []string
		weights map[string]int
		wantErr string // the error, "" when read
		str     string // String() after; "" means line
	}{
		{line: "critical,default,low", queues: []string{"critical", "default", "low"}},
		{line: "critical:6,default:3,low:1", queues: []string{"critical", "default", "low"},
			weights: map[string]int{"critical": 6, "default": 3, "low": 1}},
		{line: " low : 1 ,, critical:1000 ,", queues: []string{"low", "critical"},
			weights: map[string]int{"low": 1, "critical": 1000}, str: "low:1,critical:1000"},
		{line: "only:7", queues: []string{"only"}, weights: map[string]int{"only": 7}},
		{line: "a, b", queues: []string{"a", "b"}, str: "a,b"},
		{line: "", str: ""},

		{line: "critical:6,default,low", wantErr: "give every queue a weight (critical:6,default:3,low:1) or none (critical,default,low)"},
		{line: "critical,default:3", wantErr: "give every queue a weight (critical:6,default:3,low:1) or none (critical,default,low)"},
		{line: "a:0", wantErr: `weight "0" of queue a: want a whole number 1 to 1000`},
		{line: "a:1001", wantErr: `weight "1001" of queue a: want a whole number 1 to 1000`},
		{line: "a:-1", wantErr: `weight "-1" of queue a: want a whole number 1 to 1000`},
		{line: "a:", wantErr: `weight "" of queue a: want a whole number 1 to 1000`},
		{line: "a:1.5", wantErr: `weight "1.5" of queue a: want a whole number 1 to 1000`},
		{line: "a:6:2", wantErr: `weight "6:2" of queue a: want a whole number 1 to 1000`},
		{line: "a:six", wantErr: `weight "six" of queue a: want a whole number 1 to 1000`},
		{line: "a,b,a", wantErr: "queue a is listed twice"},
		{line: "a:1,a:2", wantErr: "queue a is listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			t.Parallel()
			queues, weights := []string{"before"}, map[string]int{"before": 1}
			v := queuesValue{&queues, &weights}
			err := v.Set(tt.line)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("Set(%q) = %v, want %q", tt.line, err, tt.wantErr)
				}
				if !slices.Equal(queues, []string{"before"}) || weights["before"] != 1 {
					t.Errorf("Set(%q) failed but changed the value to %v, %v", tt.line, queues, weights)
				}
				return
			}
			if err != nil || !slices.Equal(queues, tt.queues) || !maps.Equal(weights, tt.weights) || (weights == nil) != (tt.weights == nil) {
				t.Errorf("Set(%q) = %v: queues %q weights %v, want %q %v", tt.line, err, queues, weights, tt.queues, tt.weights)
			}
			want := tt.str
			if want == "" {
				want = tt.line
			}
			if got := v.String(); got != want {
				t.Errorf("String() after Set(%q) = %q, want %q", tt.line, got, want)
			}
		})
	}
}
