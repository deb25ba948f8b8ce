package broker

import (
	"regexp"
	"strings"
	"testing"
)

func TestValidQueue(t *testing.T) {
	t.Parallel()
	good := []string{"default", "a", "emails.outbound", "Q-9_x", strings.Repeat("z", MaxQueueLen)}
	bad := []string{"", "a b", "a{b}", "a:b", "{x}", "é", "a\nb", "a/b", "x\x00", strings.Repeat("z", MaxQueueLen+1)}
	// Every byte, alone and after a good one, as the documented character set says.
	allowed := regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	for c := 0; c < 256; c++ {
		for _, q := range []string{string([]byte{byte(c)}), "q" + string([]byte{byte(c)})} {
			if (ValidQueue(q) == nil) != allowed.MatchString(q) {
				t.Errorf("ValidQueue(%q) = %v, want ok = %v", q, ValidQueue(q), allowed.MatchString(q))
			}
		}
	}
	checkValid(t, "ValidQueue", ValidQueue, good, bad)
}

// checkValid checks that valid accepts every one of good and refuses every
// one of bad.
func checkValid(t *testing.T, name string, valid func(string) error, good, bad []string) {
	t.Helper()
	for _, v := range good {
		if err := valid(v); err != nil {
			t.Errorf("%s(%q) = %v, want nil", name, v, err)
		}
	}
	for _, v := range bad {
		if err := valid(v); err == nil {
			t.Errorf("%s(%q) = nil, want an error", name, v)
		}
	}
}

func TestValidPrefix(t *testing.T) {
	t.Parallel()
	good := []string{"runq", "app:runq", "test-1.x_y", "a/b", strings.Repeat("p", MaxPrefixLen)}
	bad := []string{"", "a b", "{x}", "a{", "}", "a\tb", "é", "x\x00", strings.Repeat("p", MaxPrefixLen+1)}
	checkValid(t, "ValidPrefix", ValidPrefix, good, bad)
}
