package main

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/internal/testdb"
)

// runDB runs a database command of the CLI on the package's test
// database and fails the test unless it exits with want.
func runDB(t *testing.T, want int, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append(args, "--database-url", testdb.URL(t))
	if code := run(context.Background(), args, &stdout, &stderr); code != want {
		t.Fatalf("flowd %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout.String(), stderr.String())
	}
	return stdout.String() + stderr.String()
}

var tokenLine = regexp.MustCompile(`(?m)^(fd_\S+)$`)
var tokenIDText = regexp.MustCompile(`API token ([0-9a-f-]{36})`)

// TestTokenCommands: flowd token create makes a scoped, expiring token
// (days accepted), token list shows it without its secret, token revoke
// stops it (within the cache TTL), and flowd audit shows both changes as
// made from the CLI.
func TestTokenCommands(t *testing.T) {
	t.Parallel()
	b := setup(t)
	company, user := uuid.New(), uuid.New()
	c, u := company.String(), user.String()
	out := runDB(t, 0, "token", "create", "--company", c, "--user", u, "--scope", "read", "--expires", "90d", "--name", "ci")
	secret, id := tokenLine.FindStringSubmatch(out), tokenIDText.FindStringSubmatch(out)
	if secret == nil || id == nil || !strings.Contains(out, "scope read") {
		t.Fatalf("token create printed %q; want the id, the scope and the token on its own line", out)
	}
	reader := &flowdtest.Tenant{CompanyID: company, UserID: user, Token: secret[1]}
	if r := b.env.Do(t, reader, "GET", "/v1/webhooks", nil); r.Code != http.StatusOK {
		t.Errorf("the read token lists flows: %d %s", r.Code, r.Raw)
	}
	if r := b.env.DoInvalid(t, reader, "POST", "/v1/webhooks", nil); r.Code != http.StatusForbidden {
		t.Errorf("the read token creates a flow: want 403, got %d %s", r.Code, r.Raw)
	}

	list := runDB(t, 0, "token", "list", "--company", c)
	expires := time.Now().Add(90 * 24 * time.Hour).UTC().Format("2006-01-02")
	if !strings.Contains(list, id[1]) || !strings.Contains(list, "read") || !strings.Contains(list, expires) || strings.Contains(list, secret[1]) {
		t.Errorf("token list:\n%s\nwant the token, its scope and its expiry (%s), never its secret", list, expires)
	}
	for _, bad := range [][]string{
		{"token", "create", "--company", c, "--user", u, "--scope", "owner"},
		{"token", "create", "--company", c, "--user", u, "--expires", "soon"},
		{"token", "list", "--company", "nope"},
		{"token", "revoke", uuid.NewString()},
	} {
		if out := runDB(t, 1, bad...); out == "" {
			t.Errorf("flowd %s: no message", strings.Join(bad, " "))
		}
	}

	runDB(t, 0, "token", "revoke", id[1])
	flowdtest.WaitFor(t, auth.CacheTTL+5*time.Second, "the revoked token refused", func() bool {
		return b.env.DoInvalid(t, reader, "GET", "/v1/webhooks", nil).Code == http.StatusUnauthorized
	})

	admin := tokenLine.FindStringSubmatch(runDB(t, 0, "token", "create", "--company", c, "--user", u))[1]
	r := b.cliToken(t, admin, "audit", "--target", id[1])
	if r.code != 0 || !regexp.MustCompile(`(?s)token\.revoke.*cli.*token\.create.*cli`).MatchString(r.stdout) {
		t.Errorf("flowd audit: exit %d\n%s%s\nwant the revocation, then the creation, both by cli", r.code, r.stdout, r.stderr)
	}
}
