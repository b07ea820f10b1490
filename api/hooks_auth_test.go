package api

import (
	"errors"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/flowd/flowd/flow"
)

func TestHookCredentials(t *testing.T) {
	t.Parallel()
	const secret = "whsec_ab+cd/ef=="
	now := time.Unix(1_800_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"a":1}`)
	sig := flow.Sign(secret, "msg_1", ts, body)
	for _, tc := range []struct {
		name    string
		query   string
		headers map[string]string
		err     error // from hookCredentialsFrom
		ok      bool  // verify(secret)
	}{
		{"encoded token", "?token=whsec_ab%2Bcd%2Fef%3D%3D", nil, nil, true},
		{"raw token with + and =", "?token=whsec_ab+cd/ef==", nil, nil, true},
		{"wrong token", "?token=whsec_ab+cd/ef=", nil, nil, false},
		{"token wins over headers", "?token=" + "whsec_x", map[string]string{"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": sig}, nil, false},
		{"signature", "", map[string]string{"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": sig}, nil, true},
		{"signature of another id", "", map[string]string{"webhook-id": "msg_2", "webhook-timestamp": ts, "webhook-signature": sig}, nil, false},
		{"nothing", "", nil, errHookNoSecret, false},
		{"signature without timestamp", "", map[string]string{"webhook-id": "msg_1", "webhook-signature": sig}, errHookSigHeaders, false},
		{"timestamp 4m59s old", "", map[string]string{"webhook-id": "m", "webhook-timestamp": strconv.FormatInt(now.Add(-299*time.Second).Unix(), 10), "webhook-signature": "v1,x"}, nil, false},
		{"timestamp 5m01s old", "", map[string]string{"webhook-id": "m", "webhook-timestamp": strconv.FormatInt(now.Add(-301*time.Second).Unix(), 10), "webhook-signature": "v1,x"}, errHookStaleRequest, false},
		{"timestamp 5m01s ahead", "", map[string]string{"webhook-id": "m", "webhook-timestamp": strconv.FormatInt(now.Add(301*time.Second).Unix(), 10), "webhook-signature": "v1,x"}, errHookStaleRequest, false},
		{"timestamp in ms", "", map[string]string{"webhook-id": "m", "webhook-timestamp": strconv.FormatInt(now.UnixMilli(), 10), "webhook-signature": "v1,x"}, errHookStaleRequest, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/v1/hooks/x"+tc.query, nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			c, err := hookCredentialsFrom(r, now)
			if !errors.Is(err, tc.err) || (err != nil) != (tc.err != nil) {
				t.Fatalf("hookCredentialsFrom: err %v, want %v", err, tc.err)
			}
			if err != nil {
				if code, _, _ := errorStatus(err); code != 401 {
					t.Errorf("status %d, want 401", code)
				}
				return
			}
			if got := c.verify(secret, body); got != tc.ok {
				t.Errorf("verify = %v, want %v", got, tc.ok)
			}
		})
	}
}
