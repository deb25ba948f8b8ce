package bench

import (
	"testing"
	"time"
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

// TestOtherCPU reads /proc/stat's busy time (user, nice, system, irq,
// softirq, steal; not idle or iowait) and takes this process's and a
// local Redis's share out of it.
func TestOtherCPU(t *testing.T) {
	t.Parallel()
	stat := "cpu  100 2 30 5000 40 5 60 7 0 0\ncpu0 50 1 15 2500 20 2 30 3 0 0\n"
	busy, ok := procStatBusy(stat)
	if want := (100 + 2 + 30 + 5 + 60 + 7) * 10 * time.Millisecond; !ok || busy != want {
		t.Errorf("procStatBusy = %v, %v; want %v", busy, ok, want)
	}
	for _, bad := range []string{"", "cpu 1 2 3", "intr 1 2 3 4 5 6 7 8 9", "cpu 1 2 x 4 5 6 7 8 9"} {
		if _, ok := procStatBusy(bad); ok {
			t.Errorf("procStatBusy(%q) read a busy time", bad)
		}
	}
	// 2 s of machine time in 1 s: 0.6 s ours, 0.9 s Redis's: 50% others.
	if got := otherShare(2*time.Second, 600*time.Millisecond, 900*time.Millisecond, time.Second, true); got != 50 {
		t.Errorf("otherShare with a local Redis = %v, want 50", got)
	}
	// A Redis elsewhere used none of this machine's time.
	if got := otherShare(2*time.Second, 600*time.Millisecond, 900*time.Millisecond, time.Second, false); got != 140 {
		t.Errorf("otherShare with a remote Redis = %v, want 140", got)
	}
	if got := otherShare(time.Second, 600*time.Millisecond, 500*time.Millisecond, time.Second, true); got != 0 {
		t.Errorf("otherShare below zero from rounding = %v, want 0", got)
	}
}
