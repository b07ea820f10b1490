package engine_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/flowd/flowd/internal/flowdtest"
)

// setupGuarded returns a flowd whose SSRF guard allows only the given
// networks (none: the production default, FLOWD_ALLOW_NETWORKS unset).
func setupGuarded(t *testing.T, allow ...string) *runBundle {
	t.Helper()
	prefixes := []netip.Prefix{}
	for _, a := range allow {
		prefixes = append(prefixes, netip.MustParsePrefix(a))
	}
	return setupRunWith(t, &flowdtest.Options{Allow: prefixes, OwnDatabase: true})
}

// TestSSRFGuardByDefault runs steps aimed at loopback, private, link-local
// and metadata addresses on a flowd that allows no network: each step fails
// at once with an error naming the blocked address, nothing reaches the
// target, and neither the step (retry_limit 3) nor the execution
// (max_retries 2) is retried: a blocked address is permanent.
func TestSSRFGuardByDefault(t *testing.T) {
	t.Parallel()
	b := setupGuarded(t)
	port := b.tg.Listener.Addr().(interface{ String() string }).String()
	port = port[strings.LastIndex(port, ":")+1:]
	for _, tc := range []struct {
		name, url, want string
	}{
		{"loopback", "http://127.0.0.1:" + port + "/x", "destination 127.0.0.1 is blocked: loopback address"},
		{"localhost by name", "http://localhost:" + port + "/x", "(localhost) is blocked: loopback address"},
		{"IPv6 loopback", "http://[::1]:" + port + "/x", "destination ::1 is blocked: loopback address"},
		{"unspecified", "http://0.0.0.0:" + port + "/x", "destination 0.0.0.0 is blocked: unspecified address"},
		{"private", "http://10.1.2.3/x", "destination 10.1.2.3 is blocked: private address (RFC 1918)"},
		{"cloud metadata", "http://169.254.169.254/latest/meta-data/", "destination 169.254.169.254 is blocked: cloud metadata address"},
		{"IPv4-mapped IPv6", "http://[::ffff:127.0.0.1]:" + port + "/x", "is blocked: loopback address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			def := flowDef("blocked "+tc.name, []any{step(1, "GET", tc.url, map[string]any{"retry_limit": 3})},
				map[string]any{"max_retries": 2})
			e := b.run(t, def)
			if e.Status != "failed" {
				t.Fatalf("execution %s, want failed", e.Status)
			}
			if len(e.Attempts) != 1 || e.AttemptNumber != 1 || e.NextRetryAt != nil {
				t.Errorf("want one attempt and no retry, got %d attempts, execution attempt %d, next_retry_at %v",
					len(e.Attempts), e.AttemptNumber, e.NextRetryAt)
			}
			if a := e.Attempts[0]; a.Outcome != "failed" || a.ResponseStatus != nil || !strings.Contains(a.Error, tc.want) ||
				!strings.Contains(a.Error, "FLOWD_ALLOW_NETWORKS") {
				t.Errorf("attempt: outcome %s, error %q; want failed naming %q and FLOWD_ALLOW_NETWORKS", a.Outcome, a.Error, tc.want)
			}
			if e.ErrorMessage == nil || !strings.Contains(*e.ErrorMessage, tc.want) {
				t.Errorf("error_message %v, want it to contain %q", e.ErrorMessage, tc.want)
			}
		})
	}
	t.Cleanup(func() {
		if n := len(b.tg.Requests("/x")); n != 0 {
			t.Errorf("the target was reached %d times", n)
		}
	})
}

// TestSSRFGuardRedirects runs steps on a flowd that allows only the
// target's address (127.0.0.1/32): every redirect hop is checked, so a
// redirect to a blocked address fails the step (permanently, no retry);
// up to 5 redirects are followed and a sixth fails the attempt.
func TestSSRFGuardRedirects(t *testing.T) {
	t.Parallel()
	b := setupGuarded(t, "127.0.0.1/32")
	u, _ := url.Parse(b.tg.URL)
	redirect := func(to string) func(http.ResponseWriter, *http.Request, int) {
		return func(w http.ResponseWriter, r *http.Request, n int) { http.Redirect(w, r, to, http.StatusFound) }
	}
	b.tg.Handle("/to-private", redirect("http://10.0.0.1/admin"))
	b.tg.Handle("/to-metadata", redirect("http://169.254.169.254/latest/meta-data/"))
	b.tg.Handle("/to-loopback", redirect("http://127.0.0.2:"+u.Port()+"/x"))
	b.tg.Handle("/to-localhost-v6", redirect("http://[::1]:"+u.Port()+"/x"))
	b.tg.Handle("/hop1", redirect("/hop2"))
	b.tg.Handle("/hop2", redirect("/to-private"))
	for i := 1; i <= 6; i++ { // /chain/1 -> /chain/2 -> ... -> /chain/6 -> /ok
		next := fmt.Sprintf("/chain/%d", i+1)
		if i == 6 {
			next = "/ok"
		}
		b.tg.Handle(fmt.Sprintf("/chain/%d", i), redirect(next))
	}
	b.tg.JSON("/ok", `{"ok": true}`)

	for _, tc := range []struct {
		name, path, want string
		success          bool
	}{
		{"redirect to a private address", "/to-private", "destination 10.0.0.1 is blocked: private address (RFC 1918)", false},
		{"redirect to metadata", "/to-metadata", "destination 169.254.169.254 is blocked: cloud metadata address", false},
		{"redirect to another loopback address", "/to-loopback", "destination 127.0.0.2 is blocked: loopback address", false},
		{"redirect to IPv6 loopback", "/to-localhost-v6", "destination ::1 is blocked: loopback address", false},
		{"blocked on the third hop", "/hop1", "destination 10.0.0.1 is blocked", false},
		{"five redirects are followed", "/chain/2", "", true},
		{"the sixth redirect is refused", "/chain/1", "stopped after 5 redirects", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			retries := 3
			if !tc.success && !strings.Contains(tc.want, "blocked") {
				retries = 0 // not permanent: would be retried
			}
			def := flowDef(tc.name, []any{step(1, "GET", b.tg.URL+tc.path, map[string]any{"retry_limit": retries})},
				map[string]any{"max_retries": retries})
			e := b.run(t, def)
			if tc.success {
				if e.Status != "success" {
					t.Fatalf("execution %s (%v), want success", e.Status, e.ErrorMessage)
				}
				return
			}
			if e.Status != "failed" || len(e.Attempts) != 1 {
				t.Fatalf("execution %s with %d attempts, want failed after one attempt", e.Status, len(e.Attempts))
			}
			if a := e.Attempts[0]; !strings.Contains(a.Error, tc.want) {
				t.Errorf("attempt error %q, want it to contain %q", a.Error, tc.want)
			}
		})
	}
}
