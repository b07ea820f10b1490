package redact

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSensitiveName(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		want bool
	}{
		{"Authorization", true},
		{"authorization", true},
		{"Proxy-Authorization", true},
		{"Cookie", true},
		{"Set-Cookie", true},
		{"X-Api-Key", true},
		{"x-auth-token", true},
		{"client_secret", true},
		{"api_key", true},
		{"apiKey", true},
		{"PASSWORD", true},
		{"db_passwd", true},
		{"X-Session-Id", true},
		{"X-Hub-Signature-256", true},
		{"access_token", true},
		{"aws_credentials", true},
		{"Content-Type", false},
		{"Accept", false},
		{"User-Agent", false},
		{"Idempotency-Key", false},
		{"idempotency_key", false},
		{"execution_id", false},
		{"Cookies-Enabled", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, SensitiveName(tt.name)); diff != "" {
				t.Errorf("SensitiveName(%q) mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}
