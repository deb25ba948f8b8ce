package bench

import "testing"

// TestWants checks which groups --only selects: all when empty, and the
// drainsizes rows with drain, but not drain with drainsizes.
func TestWants(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		only  []string
		group string
		want  bool
	}{
		{nil, "drainsizes", true},
		{[]string{"drain"}, "drain", true},
		{[]string{"drain"}, "drainsizes", true},
		{[]string{"drainsizes"}, "drainsizes", true},
		{[]string{"drainsizes"}, "drain", false},
		{[]string{"memory"}, "drainsizes", false},
		{[]string{"memory", "drain"}, "memory", true},
	} {
		if got := (Config{Only: tt.only}).wants(tt.group); got != tt.want {
			t.Errorf("Config{Only: %q}.wants(%q) = %v, want %v", tt.only, tt.group, got, tt.want)
		}
	}
}
