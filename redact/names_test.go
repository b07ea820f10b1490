package redact

import (
	"testing"

	"github.com/flowd/flowd/internal/tabletest"
)

func TestSensitiveName(t *testing.T) {
	t.Parallel()

	tabletest.Func(t, "SensitiveName", SensitiveName, []tabletest.Case[string, bool]{
		{In: "Authorization", Want: true},
		{In: "authorization", Want: true},
		{In: "Proxy-Authorization", Want: true},
		{In: "Cookie", Want: true},
		{In: "Set-Cookie", Want: true},
		{In: "X-Api-Key", Want: true},
		{In: "x-auth-token", Want: true},
		{In: "client_secret", Want: true},
		{In: "api_key", Want: true},
		{In: "apiKey", Want: true},
		{In: "PASSWORD", Want: true},
		{In: "db_passwd", Want: true},
		{In: "X-Session-Id", Want: true},
		{In: "X-Hub-Signature-256", Want: true},
		{In: "access_token", Want: true},
		{In: "aws_credentials", Want: true},
		{In: "Content-Type", Want: false},
		{In: "Accept", Want: false},
		{In: "User-Agent", Want: false},
		{In: "Idempotency-Key", Want: false},
		{In: "idempotency_key", Want: false},
		{In: "execution_id", Want: false},
		{In: "Cookies-Enabled", Want: false},
		{In: "", Want: false},
		{In: "API_\u212aEY", Want: true}, // the Kelvin sign lowers to k
		{In: "X-T\u00f6ken", Want: false},
		{In: "PROXY-AUTHORIZATION", Want: true},
		{In: "IDEMPOTENCY-KEY", Want: false},
	})
}
