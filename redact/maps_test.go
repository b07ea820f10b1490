package redact

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowd/flowd/internal/tabletest"
)

func TestHeaders(t *testing.T) {
	t.Parallel()

	tabletest.Func(t, "Headers", Headers, []tabletest.Case[map[string]string, map[string]string]{
		{Name: "Nil", In: nil, Want: nil},
		{
			Name: "Mixed",
			In: map[string]string{
				"Authorization": "Bearer abc123",
				"Content-Type":  "application/json",
				"X-Api-Key":     "k-123",
				"x-auth-token":  "t-456",
				"Cookie":        "sid=1",
				"X-Request-Id":  "r-1",
			},
			Want: map[string]string{
				"Authorization": Mask,
				"Content-Type":  "application/json",
				"X-Api-Key":     Mask,
				"x-auth-token":  Mask,
				"Cookie":        Mask,
				"X-Request-Id":  "r-1",
			},
		},
	})
}

func TestVars(t *testing.T) {
	t.Parallel()

	tabletest.Func(t, "Vars", Vars, []tabletest.Case[map[string]any, map[string]any]{
		{Name: "Nil", In: nil, Want: nil},
		{
			Name: "Nested",
			In: map[string]any{
				"order_id":     "o-1",
				"access_token": "tok",
				"session":      map[string]any{"id": "s"},
				"count":        3,
				"customer": map[string]any{
					"name":     "Ada",
					"password": "pw",
					"cards":    []any{map[string]any{"last4": "4242", "card_key": "ck"}, "plain"},
				},
				"headers": map[string]string{"Authorization": "Bearer x", "Accept": "*/*"},
			},
			Want: map[string]any{
				"order_id":     "o-1",
				"access_token": Mask,
				"session":      Mask,
				"count":        3,
				"customer": map[string]any{
					"name":     "Ada",
					"password": Mask,
					"cards":    []any{map[string]any{"last4": "4242", "card_key": Mask}, "plain"},
				},
				"headers": map[string]string{"Authorization": Mask, "Accept": "*/*"},
			},
		},
	})
}

func TestHTTPHeader(t *testing.T) {
	t.Parallel()

	tabletest.Func(t, "HTTPHeader", HTTPHeader, []tabletest.Case[http.Header, map[string]string]{
		{Name: "Nil", In: nil, Want: nil},
		{
			Name: "FlattenedAndMasked",
			In: http.Header{
				"Authorization": {"Basic dXNlcjpwYXNz"},
				"Content-Type":  {"application/json"},
				"Accept":        {"text/plain", "application/json"},
				"Set-Cookie":    {"a=1", "b=2"},
				"x-api-key":     {"k-123"},
			},
			Want: map[string]string{
				"Authorization": Mask,
				"Content-Type":  "application/json",
				"Accept":        "text/plain, application/json",
				"Set-Cookie":    Mask,
				"X-Api-Key":     Mask,
			},
		},
		{
			Name: "CanonicalOnly",
			In:   http.Header{"Content-Type": {"a/b"}, "Accept": {"x", "y"}, "Authorization": {"t"}, "X-Empty": {}},
			Want: map[string]string{"Content-Type": "a/b", "Accept": "x, y", "Authorization": Mask, "X-Empty": ""},
		},
		{
			Name: "NonCanonicalNamesMerged",
			In:   http.Header{"X-Trace": {"a"}, "x-trace": {"b"}},
			Want: map[string]string{"X-Trace": "a, b"},
		},
	})
}

// TestHTTPHeaderReceived masks the headers of a request as a server really
// receives them.
func TestHTTPHeaderReceived(t *testing.T) {
	t.Parallel()

	received := make(chan http.Header, 1)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received <- r.Header.Clone()
	}))
	t.Cleanup(server.Close)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, server.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer s3cr3t-value")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", "sha256=abcdef")
	req.Header.Set("User-Agent", "flowd-test")
	resp, err := server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	got := HTTPHeader(<-received)
	want := map[string]string{
		"Accept-Encoding":     "gzip",
		"Authorization":       Mask,
		"Content-Length":      "0",
		"Content-Type":        "application/json",
		"User-Agent":          "flowd-test",
		"X-Hub-Signature-256": Mask,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("HTTPHeader of received request mismatch (-want +got):\n%s", diff)
	}
}

// Headers and Vars return masked copies: their input stays as it was.
func TestMaskingKeepsInput(t *testing.T) {
	t.Parallel()

	headers := map[string]string{"Authorization": "Bearer abc123", "Accept": "*/*"}
	vars := map[string]any{"password": "pw", "customer": map[string]any{"card_key": "ck", "cards": []any{map[string]any{"token": "t"}}}}
	before := fmt.Sprint(headers, vars)
	Headers(headers)
	Vars(vars)
	if after := fmt.Sprint(headers, vars); after != before {
		t.Errorf("masking changed its input from %s to %s", before, after)
	}
}
