package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/flowd/flowd/internal/testdb"
)

// flowd prune --dry-run prints the counts and deletes nothing; flowd prune
// deletes exactly those rows, once.
func TestPruneCommand(t *testing.T) {
	t.Parallel()
	url := testdb.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	company := uuid.New()
	for i, revoked := range []string{"now() - interval '2 hours'", "now() - interval '2 hours'", "now()", "NULL"} {
		if _, err := conn.Exec(ctx, `INSERT INTO api_tokens (id, company_id, user_id, token_hash, scope, revoked_at)
			VALUES ($1, $2, $2, $3, 'read', `+revoked+`)`, uuid.New(), company, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	tokens := func() (n int) {
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM api_tokens`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	prune := func(want string, args ...string) {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append([]string{"prune", "--older-than", "1h", "--database-url", url}, args...)
		if code := run(ctx, args, &out, &errOut); code != 0 {
			t.Fatalf("flowd %v: exit %d: %s", args, code, errOut.String())
		}
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("flowd %v printed:\n%s\nwant it to match %q", args, out.String(), want)
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
