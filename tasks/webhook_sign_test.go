package tasks

import (
	"errors"
	"testing"
	"time"
)

func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"x"}`)
	secret := []byte("s3cret")
	tests := []struct {
		name   string
		secret []byte
		header string
		ok     bool
	}{
		{"signed", secret, signWebhook(secret, now, body), true},
		{"empty secret, signed with it", nil, signWebhook(nil, now, body), false},
		{"empty secret, zero-length", []byte{}, signWebhook([]byte{}, now, body), false},
		{"other secret", secret, signWebhook([]byte("other"), now, body), false},
		{"too old", secret, signWebhook(secret, now.Add(-6*time.Minute), body), false},
		{"malformed", secret, "v1=00", false},
		{"missing", secret, "", false},
	}
	for _, tc := range tests {
		err := VerifyWebhook(tc.secret, tc.header, body, 0, now)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBadSignature)) {
			t.Errorf("%s: VerifyWebhook = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
