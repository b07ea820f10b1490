package redact

import (
	"testing"
)

func TestJSON(t *testing.T) {
	t.Parallel()

	json := func(in string, secrets []string) string { return string(JSON([]byte(in), secrets)) }
	checkMask(t, "JSON", json, []maskCase{
		{name: "Empty", in: "", want: ""},
		{name: "Scalar", in: ` 42 `, want: `42`},
		{
			name: "SensitiveKeys",
			in:   `{"user":"ada","password":"pw","api_key":12345,"enabled":true,"token":null}`,
			want: `{"user":"ada","password":"[redacted]","api_key":"[redacted]","enabled":true,"token":null}`,
		},
		{
			name: "Nested",
			in: `{"z":1,"auth":{"user":"u","pass":"p"},"items":[{"name":"a","client_secret":"s"},` +
				`{"name":"b","meta":{"session":"x","n":1.50}}],"a":[]}`,
			want: `{"z":1,"auth":"[redacted]","items":[{"name":"a","client_secret":"[redacted]"},` +
				`{"name":"b","meta":{"session":"[redacted]","n":1.50}}],"a":[]}`,
		},
		{
			name:    "SecretsInStrings",
			in:      `{"text":"use tok-123 now","list":["tok-123","<b>&"],"tok-123":1}`,
			secrets: []string{"tok-123"},
			want:    `{"text":"use [redacted] now","list":["[redacted]","<b>&"],"[redacted]":1}`,
		},
		{
			name:    "EscapedSecretInString",
			in:      `{"text":"pre \u0074ok-123 post"}`,
			secrets: []string{"tok-123"},
			want:    `{"text":"pre [redacted] post"}`,
		},
		{
			name:    "Invalid",
			in:      `{"password": "pw", tok-123`,
			secrets: []string{"tok-123"},
			want:    `{"password": "pw", [redacted]`,
		},
		{
			name:    "TrailingData",
			in:      `{"a":"tok-123"} {"b":2}`,
			secrets: []string{"tok-123"},
			want:    `{"a":"[redacted]"} {"b":2}`,
		},
		{
			name: "EscapesAsEncodingJSONWritesThem",
			in:   "{\"q\":\"a\\\"b\\\\c\\n\\u0001\\u00e9\\u2028<&>\\/\",\"k\\u0065y\":\"v\",\"x\":\"\xff\"}",
			want: "{\"q\":\"a\\\"b\\\\c\\n\\u0001é\\u2028<&>/\",\"key\":\"[redacted]\",\"x\":\"\\ufffd\"}",
		},
		{
			name: "Whitespace",
			in:   "[ 1 ,\n { \"a\" : [ ] } , \"s\" , true , null ]",
			want: `[1,{"a":[]},"s",true,null]`,
		},
		{
			name: "BigNumberKept",
			in:   `{"id":123456789012345678901234567890}`,
			want: `{"id":123456789012345678901234567890}`,
		},
	})
}
