package cli

import (
	"strings"
	"testing"
)

func TestCheckExposure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr, token string
		insecure    bool
		ok          bool
	}{
		{"127.0.0.1:8080", "", false, true},
		{"127.0.0.5:0", "", false, true},
		{"[::1]:8080", "", false, true},
		{"localhost:8080", "", false, true},
		{"0.0.0.0:8080", "", false, false},
		{":8080", "", false, false},
		{"[::]:8080", "", false, false},
		{"10.1.2.3:8080", "", false, false},
		{"0.0.0.0:8080", "s3cret", false, true},
		{"0.0.0.0:8080", "", true, true},
		{"no-port", "", false, false},
	}
	for _, tt := range tests {
		c := config{addr: tt.addr, apiToken: tt.token, insecure: tt.insecure}
		err := c.checkExposure()
		if (err == nil) != tt.ok {
			t.Errorf("checkExposure(addr %q, token %q, insecure %v) = %v, want ok=%v", tt.addr, tt.token, tt.insecure, err, tt.ok)
		}
		if err != nil && tt.addr != "no-port" && !strings.Contains(err.Error(), "--insecure") {
			t.Errorf("checkExposure(%q) = %q: the message should say how to proceed", tt.addr, err)
		}
	}
}
