package outages

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// Durations collects latencies and reports their percentiles.
type Durations []time.Duration

// Percentile returns the p-th percentile (0-100) by the nearest-rank
// method, or 0 when empty.
func (d Durations) Percentile(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// Max returns the largest, or 0.
func (d Durations) Max() time.Duration {
	if len(d) == 0 {
		return 0
	}
	return slices.Max(d)
}

// ms renders d in milliseconds with one decimal.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

// Summary prints the test's one summary line, "faults: <name> k=v ...", with
// t.Logf and on standard output, so that it shows with -v and in CI logs.
func Summary(t testing.TB, name string, kv ...any) {
	t.Helper()
	var b strings.Builder
	b.WriteString("faults: " + name)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	t.Log(b.String())
	fmt.Println(b.String())
}
