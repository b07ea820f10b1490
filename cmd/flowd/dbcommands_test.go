package main

// Tests of the commands that work on the database directly rather than
// through the API: token, prune and keys (with the key checks serve and
// worker make at start).

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/internal/testdb"
	"github.com/flowd/flowd/keyring"
	"github.com/flowd/flowd/store"
)

// runDB runs a database command of the CLI on the package's test
// database and fails the test unless it exits with want. It returns what
// the command printed, stdout then stderr.
func runDB(t *testing.T, want int, args ...string) string {
	t.Helper()
	stdout, stderr := runDBAt(t, testdb.URL(t), want, args...)
	return stdout + stderr
}

// runDBAt runs a database command of the CLI on the database at dbURL and
// fails the test unless it exits with want.
func runDBAt(t *testing.T, dbURL string, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--database-url", dbURL)
	if code := run(context.Background(), args, &out, &errOut); code != want {
		t.Fatalf("flowd %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// newDatabase returns a database of the test's own (for a test that counts
// or dumps every row) and a pool on it.
func newDatabase(t *testing.T) (string, *pgxpool.Pool) {
	t.Helper()
	url := testdb.NewDatabase(t)
	pool, err := pgxpool.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return url, pool
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

	// A mistyped flag is named before the database is opened (here it
	// cannot be reached at all).
	for _, bad := range [][]string{
		{"token", "create", "--company", "nope", "--user", u},
		{"token", "create", "--company", c, "--user", "nope"},
		{"token", "create", "--company", c, "--user", u, "--scope", "owner"},
		{"token", "list", "--company", "nope"},
		{"token", "revoke", "nope"},
	} {
		_, stderr := runDBAt(t, "postgres://127.0.0.1:1/none?connect_timeout=2", 1, bad...)
		if !strings.Contains(stderr, "nope") && !strings.Contains(stderr, "--scope") || strings.Contains(stderr, "127.0.0.1:1") {
			t.Errorf("flowd %s with an unreachable database: %q, want the bad flag named and no connection attempt", strings.Join(bad, " "), stderr)
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

// flowd prune --dry-run prints the counts and deletes nothing; flowd prune
// deletes exactly those rows, once.
func TestPruneCommand(t *testing.T) {
	t.Parallel()
	url, pool := newDatabase(t)
	ctx := context.Background()
	company := uuid.New()
	for i, revoked := range []string{"now() - interval '2 hours'", "now() - interval '2 hours'", "now()", "NULL"} {
		if _, err := pool.Exec(ctx, `INSERT INTO api_tokens (id, company_id, user_id, token_hash, scope, revoked_at)
			VALUES ($1, $2, $2, $3, 'read', `+revoked+`)`, uuid.New(), company, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	tokens := func() (n int) {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM api_tokens`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	prune := func(want string, args ...string) {
		t.Helper()
		args = append([]string{"prune", "--older-than", "1h"}, args...)
		if out, _ := runDBAt(t, url, 0, args...); !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("flowd %v printed:\n%s\nwant it to match %q", args, out, want)
		}
	}
	prune(`would delete[^\n]*\n[\s\S]*\bexecutions +0\n[\s\S]*\bapi_tokens +2\n`, "--dry-run")
	if n := tokens(); n != 4 {
		t.Fatalf("the dry run left %d tokens of 4", n)
	}
	prune(`deleted \(older than[\s\S]*\bapi_tokens +2\n`)
	if n := tokens(); n != 2 {
		t.Fatalf("the prune left %d tokens, want the 2 revoked recently or live", n)
	}
	prune(`\bapi_tokens +0\n`)
}

// serve and worker with no key at all refuse to start and say how to make
// one.
func TestServeRefusesWithoutKey(t *testing.T) {
	setEnv(t, "DATABASE_URL", "postgres://127.0.0.1:1/none", envEncryptionKeys, "", envEncryptionKeyFile, "")
	for name, run := range map[string]func(context.Context, []string, io.Writer, io.Writer) error{"serve": runServe, "worker": runWorker} {
		err := run(t.Context(), nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "flowd keys generate") || !strings.Contains(err.Error(), envEncryptionKeys) {
			t.Errorf("%s without a key: %v, want a refusal naming %s and `flowd keys generate`", name, err, envEncryptionKeys)
		}
	}
}

// `flowd keys generate --file` puts the new key first and keeps the old
// ones, in a file only its owner reads.
func TestKeysGenerateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flowd.keys")
	var ids []string
	for range 2 {
		var out bytes.Buffer
		if err := runKeys(t.Context(), []string{"generate", "--file", path}, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, strings.Fields(out.String())[1])
	}
	setEnv(t, envEncryptionKeys, "", envEncryptionKeyFile, path)
	keys, source, err := loadKeys()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(keys.IDs(), ","); got != ids[1]+","+ids[0] || !strings.Contains(source, path) {
		t.Errorf("key file holds %s (from %s), want %s then %s", got, source, ids[1], ids[0])
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
}

// Starting with a key that did not seal the stored secrets fails with a
// message naming the key id, and changes nothing; the right key starts.
func TestStartWithWrongKey(t *testing.T) {
	t.Parallel()
	_, pool := newDatabase(t)
	right, err := keyring.Parse(keyring.Generate())
	if err != nil {
		t.Fatal(err)
	}
	in, err := flow.DecodeFlow([]byte(`{"name": "k", "predefinedVariables": [{"name": "crm", "value": "crm-SECRET-start", "secret": true}],
		"steps": [{"step_number": 1, "webhook_method": "GET", "webhook_url": "https://example.com/{{crm}}"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.New(pool, right).FlowCreate(t.Context(), uuid.New(), uuid.New(), in, "whsec_start"); err != nil {
		t.Fatal(err)
	}
	before := testdb.TextDump(t, pool)
	wrong, err := keyring.Parse(keyring.Generate())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	err = prepareSecrets(t.Context(), store.New(pool, wrong), wrong, "test", log)
	if err == nil || !strings.Contains(err.Error(), right.Primary()) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("start with the wrong key: %v, want a refusal naming key %s", err, right.Primary())
	}
	if after := testdb.TextDump(t, pool); after != before {
		t.Error("a refused start changed what is stored")
	}
	if err := prepareSecrets(t.Context(), store.New(pool, right), right, "test", log); err != nil {
		t.Errorf("start with the right key: %v", err)
	}
}
