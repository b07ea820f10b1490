package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/web"
)

func TestRiverUI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := b.trigger(t, b.tenant, b.createFlow(t, b.tenant, b.twoSteps("for the river UI")))
	b.env.WaitExecution(t, b.tenant, e.ID, 30*time.Second, "success")

	do := func(method, path, password string, headers ...string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(method, b.env.URL+path, strings.NewReader(`{"job_ids": ["1"]}`))
		if password != "" {
			req.SetBasicAuth("operator", password)
		}
		code, hdr, body := flowdtest.Send(t, req, headers...)
		return code, hdr, string(body)
	}
	for _, tc := range []struct {
		name, path, password string
		want                 int
	}{
		{"page without credentials", "/riverui/", "", http.StatusUnauthorized},
		{"api without credentials", "/riverui/api/jobs?state=completed", "", http.StatusUnauthorized},
		{"wrong password", "/riverui/", "not-the-operator-token", http.StatusUnauthorized},
		{"a tenant's API token", "/riverui/api/jobs?state=completed", b.tenant.Token, http.StatusUnauthorized},
		{"page", "/riverui/", operatorToken, http.StatusOK},
		{"queues", "/riverui/api/queues", operatorToken, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, hdr, body := do("GET", tc.path, tc.password)
			if code != tc.want {
				t.Fatalf("GET %s: %d, want %d: %s", tc.path, code, tc.want, body)
			}
			if code == http.StatusUnauthorized && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("401 without a Basic challenge")
			}
		})
	}
	if _, hdr, body := do("GET", "/riverui/", operatorToken); !strings.Contains(hdr.Get("Content-Type"), "text/html") || !strings.Contains(body, "<html") {
		t.Errorf("River UI page is not HTML: %s %.200s", hdr.Get("Content-Type"), body)
	}
	// The API lists the execution's job; River marks it completed a moment
	// after the execution's end is committed.
	var found bool
	for deadline := time.Now().Add(10 * time.Second); !found && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		code, _, body := do("GET", "/riverui/api/jobs?state=completed&kinds=flowd.execution&limit=100", operatorToken)
		var jobs struct {
			Data []struct {
				Args json.RawMessage `json:"args"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(body), &jobs); err != nil || code != http.StatusOK {
			t.Fatalf("jobs: %d %v: %s", code, err, body)
		}
		for _, j := range jobs.Data {
			found = found || strings.Contains(string(j.Args), e.ID.String())
		}
	}
	if !found {
		t.Errorf("completed jobs lack execution %s", e.ID)
	}
	// A state-changing request from another site is refused even with the
	// browser's remembered credentials.
	if code, _, body := do("POST", "/riverui/api/jobs/cancel", operatorToken, "Sec-Fetch-Site", "cross-site", "Content-Type", "text/plain"); code != http.StatusForbidden {
		t.Errorf("cross-site cancel: %d, want 403: %s", code, body)
	}
	// The same request from the UI's own page reaches River's API (job 1
	// does not exist or is finished: nothing to cancel).
	if code, _, body := do("POST", "/riverui/api/jobs/cancel", operatorToken, "Sec-Fetch-Site", "same-origin", "Content-Type", "application/json"); code == http.StatusForbidden || code == http.StatusUnauthorized {
		t.Errorf("same-origin cancel: %d: %s", code, body)
	}
}

func TestRiverUIShortToken(t *testing.T) {
	t.Parallel()
	if _, err := web.NewRiverUI(nil, "short", nil); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("NewRiverUI with a short token: %v", err)
	}
}
