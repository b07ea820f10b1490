package redact

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowd/flowd/internal/tabletest"
)

func TestSecretValues(t *testing.T) {
	t.Parallel()

	tabletest.Func(t, "SecretValues", SecretValues, []tabletest.Case[map[string]any, []string]{
		{Name: "Nil", In: nil, Want: []string{}},
		{
			Name: "SensitiveNamesOnly",
			In: map[string]any{
				"api_key":       "k-12345",
				"client_secret": "a much longer secret",
				"password":      "pw1", // too short
				"session_ttl":   3600,  // not a string
				"customer_name": "Ada Lovelace",
				"access_token":  "k-12345", // duplicate
			},
			Want: []string{"a much longer secret", "k-12345"},
		},
		{
			Name: "Nested",
			In: map[string]any{
				"provider": map[string]any{"access_token": "tok-abc", "expires_in": "3600s"},
				"credentials": map[string]any{
					"user": "admin-user",
					"list": []any{"first-secret", 42, map[string]any{"x": "deep-secret"}},
				},
				"config": map[string]string{"webhook_signature": "sig-value", "region": "eu-west-1"},
			},
			Want: []string{"first-secret", "deep-secret", "admin-user", "sig-value", "tok-abc"},
		},
	})
}

func TestString(t *testing.T) {
	t.Parallel()

	checkMask(t, "String", String, []maskCase{
		{name: "NoSecrets", in: "nothing to hide", want: "nothing to hide"},
		{name: "EmptySecretIgnored", in: "abc", secrets: []string{""}, want: "abc"},
		{name: "Plain", in: "token is tok-123 and again tok-123", secrets: []string{"tok-123"}, want: "token is [redacted] and again [redacted]"},
		{name: "QueryEscaped", in: "q=p%40ss+w%2Frd%26x", secrets: []string{"p@ss w/rd&x"}, want: "q=[redacted]"},
		{name: "PathEscaped", in: "/users/p@ss%20w%2Frd", secrets: []string{"p@ss w/rd"}, want: "/users/[redacted]"},
		{name: "JSONEscaped", in: `{"note":"a\"b\\c\u003cd"}`, secrets: []string{`a"b\c<d`}, want: `{"note":"[redacted]"}`},
		{name: "LongestFirst", in: "abcd abcdefgh", secrets: []string{"abcd", "abcdefgh"}, want: "[redacted] [redacted]"},
		{name: "MaskNotRewritten", in: "redacted-secret", secrets: []string{"redacted-secret", "redacted"}, want: "[redacted]"},
		{name: "Multiline", in: "line1 s3cr3t\nline2 s3cr3t", secrets: []string{"s3cr3t"}, want: "line1 [redacted]\nline2 [redacted]"},
	})
}

func TestURL(t *testing.T) {
	t.Parallel()

	checkMask(t, "URL", URL, []maskCase{
		{name: "Untouched", in: "https://api.example.com/v1/items?page=2&sort=asc", want: "https://api.example.com/v1/items?page=2&sort=asc"},
		{
			name: "SensitiveQueryParams",
			in:   "https://api.example.com/cb?code=abc&access_token=t1&client_secret=s2&api%5Fkey=k3&state=xyz&token=",
			want: "https://api.example.com/cb?code=abc&access_token=[redacted]&client_secret=[redacted]&api%5Fkey=[redacted]&state=xyz&token=",
		},
		{
			name: "Password",
			in:   "https://bob:hunter2@db.example.com:8443/path",
			want: "https://bob:[redacted]@db.example.com:8443/path",
		},
		{
			name: "UsernameOnlyKept",
			in:   "https://bob@db.example.com/path",
			want: "https://bob@db.example.com/path",
		},
		{
			name:    "SecretInPath",
			in:      "https://api.telegram.org/bot123456:ABC-DEF/sendMessage",
			secrets: []string{"123456:ABC-DEF"},
			want:    "https://api.telegram.org/bot[redacted]/sendMessage",
		},
		{
			name:    "SecretQueryEscaped",
			in:      "https://hooks.example.com/in?k=a%2Bb%2Fc%3D%3D&x=1",
			secrets: []string{"a+b/c=="},
			want:    "https://hooks.example.com/in?k=[redacted]&x=1",
		},
		{
			name:    "SecretPathEscaped",
			in:      "https://hooks.example.com/in/a%20b%3Fc",
			secrets: []string{"a b?c"},
			want:    "https://hooks.example.com/in/[redacted]",
		},
		{
			name: "Fragment",
			in:   "https://app.example.com/cb#access_token=t1&state=s",
			want: "https://app.example.com/cb#access_token=[redacted]&state=s",
		},
		{
			name:    "Unparseable",
			in:      "http://[::1%zz]:80/?token=abc-secret",
			secrets: []string{"abc-secret"},
			want:    "http://[::1%zz]:80/?token=[redacted]",
		},
	})
}

// maskCase is a text, the secret values known, and what a masking
// function must make of them.
type maskCase struct {
	name    string
	in      string
	secrets []string
	want    string
}

// checkMask runs mask on each case in a parallel subtest.
func checkMask(t *testing.T, what string, mask func(in string, secrets []string) string, cases []maskCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, mask(tc.in, tc.secrets)); diff != "" {
				t.Errorf("%s(%q) (-want +got):\n%s", what, tc.in, diff)
			}
		})
	}
}
