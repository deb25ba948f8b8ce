package bench

import (
	"testing"
)

// TestMeasureRetriesDisturbedRows measures a row whose attempts are all
// disturbed but one less than the others: three attempts are made and the
// least disturbed is kept; an undisturbed first attempt is kept at once.
func TestMeasureRetriesDisturbedRows(t *testing.T) {
	t.Parallel()
	r := &runner{cfg: Config{}.withDefaults()}
	for _, tc := range []struct {
		others       []float64
		wantCalls    int
		wantKept     int // the attempt kept, 1-based
		wantOtherCPU float64
	}{
		{[]float64{90, 60, 70}, 3, 2, 60},
		{[]float64{90, 10, 70}, 2, 2, 10},
		{[]float64{5, 90, 90}, 1, 1, 5},
		{[]float64{-1}, 1, 1, -1}, // unknown: never retried
	} {
		calls := 0
		row, err := r.measure(func() (Row, error) {
			calls++
			return Row{Scenario: "x", TasksPerSec: float64(calls), OtherCPU: tc.others[calls-1]}, nil
		})
		if err != nil || calls != tc.wantCalls || row.Attempts != tc.wantCalls || row.OtherCPU != tc.wantOtherCPU ||
			row.TasksPerSec != float64(tc.wantKept) {
			t.Errorf("others %v: %d calls, row %+v, %v; want %d calls keeping attempt %d (other %.0f%%)",
				tc.others, calls, row, err, tc.wantCalls, tc.wantKept, tc.wantOtherCPU)
		}
	}
}
