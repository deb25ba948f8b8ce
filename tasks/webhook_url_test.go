package tasks

import (
	"errors"
	"testing"
)

func TestDialGuard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		address string
		refused bool
	}{
		{"127.0.0.1:80", true},
		{"[::1]:443", true},
		{"10.0.0.1:80", true},
		{"172.16.5.4:80", true},
		{"192.168.1.1:80", true},
		{"169.254.169.254:80", true},
		{"[fe80::1]:80", true},
		{"[fd00::1]:80", true},
		{"0.0.0.0:80", true},
		{"[::]:80", true},
		{"100.64.0.1:80", true},
		{"224.0.0.1:80", true},
		{"[::ffff:127.0.0.1]:80", true},
		{"93.184.216.34:443", false},
		{"[2606:2800:220:1:248:1893:25c8:1946]:443", false},
		{"8.8.8.8:53", false},
		{"[64:ff9b::7f00:1]:80", true},
		{"[64:ff9b::a9fe:a9fe]:80", true},
		{"[64:ff9b::a00:1]:80", true},
		{"[64:ff9b:1::a00:1]:80", true},
		{"[64:ff9b:1:ffff::808:808]:80", true},
		{"[2002:7f00:1::1]:80", true},
		{"[2002:a9fe:a9fe::1]:80", true},
		{"[::127.0.0.1]:80", true},
		{"[::10.0.0.1]:80", true},
		{"[2001::1]:80", true},
		{"[2001:db8::1]:80", true},
		{"198.18.0.1:80", true},
		{"198.19.255.254:80", true},
		{"192.0.0.8:80", true},
		{"192.0.2.1:80", true},
		{"240.0.0.1:80", true},
		{"255.255.255.255:80", true},
		{"[ff02::1]:80", true},
		{"[64:ff9b::808:808]:53", false},
		{"[2002:808:808::1]:53", false},
		{"[2606:4700::1111]:443", false},
		{"1.1.1.1:443", false},
		{"198.20.0.1:80", false},
	}
	for _, tc := range tests {
		if err := dialGuard("tcp", tc.address); (err != nil) != tc.refused {
			t.Errorf("dialGuard(%q) = %v, want refused %v", tc.address, err, tc.refused)
		}
	}
}

func TestCallbackURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url           string
		valid, public bool
	}{
		{"", true, true},
		{"https://example.com/hook", true, true},
		{"http://93.184.216.34:8080/x?y=1", true, true},
		{"http://hooks.internal.example/x", true, true}, // a name: checked when dialed
		{"ftp://example.com/", false, true},
		{"example.com/hook", false, true},
		{"https:///hook", false, true},
		{"https://user:pw@example.com/", false, true},
		{"http://127.0.0.1/", true, false},
		{"http://LOCALHOST./", true, false},
		{"http://a.localhost/", true, false},
		{"http://[fe80::1%25eth0]/", true, false},
		{"http://[64:ff9b::7f00:1]/", true, false},
		{"http://[2002:7f00:1::1]/", true, false},
		{"http://[::127.0.0.1]/", true, false},
		{"http://198.18.0.1/", true, false},
		{"http://255.255.255.255/", true, false},
		{"http://8.8.8.8/", true, true},
		{"http://[2606:4700::1111]/", true, true},
	}
	for _, tc := range tests {
		if err := validCallbackURL(tc.url); (err == nil) != tc.valid || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("validCallbackURL(%q) = %v, want valid %v", tc.url, err, tc.valid)
		}
		if err := publicCallbackURL(tc.url); (err == nil) != tc.public {
			t.Errorf("publicCallbackURL(%q) = %v, want public %v", tc.url, err, tc.public)
		}
	}
}
