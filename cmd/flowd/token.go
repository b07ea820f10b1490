package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/store"
)

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("flowd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// tokenCommands are the verbs of `flowd token`: the operator's token
// commands, straight on the database (no token needed to make the first
// one). The API's /v1/tokens does the same with an admin token.
var tokenCommands = []subcommand{
	{"create", "issue a token: --company UUID --user UUID [--scope S] [--expires 90d] [--name NAME]", tokenCreate},
	{"list", "list a company's tokens: --company UUID", tokenList},
	{"revoke", "revoke a token by id: every process refuses it within 10 s", tokenRevoke},
}

// openStore parses a token subcommand's flags (fs, to which it adds
// --database-url; flags before or after the arguments) and opens the
// migrated database; call done when finished. It returns the positional
// arguments.
func openStore(ctx context.Context, fs *flag.FlagSet, args []string) (st *store.Store, done func(), pos []string, err error) {
	dbURL := databaseURLFlag(fs)
	if pos, err = newEnvFlags(fs).parse(args); err != nil {
		return nil, nil, nil, err
	}
	pool, err := migratedPool(ctx, *dbURL, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	// Tokens are hashed, not sealed: no encryption key is needed here.
	return store.New(pool, nil), pool.Close, pos, nil
}

// openCompanyStore is openStore for a command about one company's tokens:
// it declares --company (required, a UUID), described by usage, and
// returns the company's id.
func openCompanyStore(ctx context.Context, fs *flag.FlagSet, args []string, usage string) (st *store.Store, companyID uuid.UUID, done func(), err error) {
	company := fs.String("company", "", usage)
	if st, done, _, err = openStore(ctx, fs, args); err != nil {
		return nil, uuid.Nil, nil, err
	}
	if companyID, err = parseUUID("company", *company); err != nil {
		done()
		return nil, uuid.Nil, nil, err
	}
	return st, companyID, done, nil
}

// parseUUID reads the UUID of a flag.
func parseUUID(flagName, v string) (uuid.UUID, error) {
	id, err := uuid.Parse(v)
	if err != nil {
		return uuid.Nil, fmt.Errorf("--%s %q is not a UUID", flagName, v)
	}
	return id, nil
}

func tokenCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token create", stderr)
	user := fs.String("user", "", "user recorded as created_by of flows made with the token (UUID, required)")
	name := fs.String("name", "", "a label for the token")
	scope := fs.String("scope", string(auth.ScopeAdmin), "read (every GET), trigger (read + triggers, events, cancel, retry) or admin (everything)")
	expires := fs.String("expires", "", "lifetime, e.g. 90d or 12h; empty for a token that never expires")
	st, companyID, done, err := openCompanyStore(ctx, fs, args, "company the token acts for (UUID, required)")
	if err != nil {
		return err
	}
	defer done()
	userID, err := parseUUID("user", *user)
	if err != nil {
		return err
	}
	sc, err := auth.ParseScope(*scope)
	if err != nil {
		return fmt.Errorf("--scope: %w", err)
	}
	req := &auth.NewTokenRequest{CompanyID: companyID, UserID: userID, Name: *name, Scope: sc}
	if *expires != "" {
		d, err := auth.ParseLifetime(*expires)
		if err != nil {
			return fmt.Errorf("--expires %w", err)
		}
		at := time.Now().Add(d)
		req.ExpiresAt = &at
	}
	// The store refuses the zero company (store.ErrNoCompany).
	token, t, err := auth.Issue(ctx, st, nil, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "API token %s for company %s, scope %s, expires %s (shown once; store it now):\n%s\n",
		t.ID, companyID, t.Scope, orNever(t.ExpiresAt), token)
	return nil
}

func tokenList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	st, companyID, done, err := openCompanyStore(ctx, newFlagSet("token list", stderr), args, "company whose tokens to list (UUID, required)")
	if err != nil {
		return err
	}
	defer done()
	list, err := st.TokenList(ctx, companyID)
	if err != nil {
		return err
	}
	tw := newTable(stdout)
	fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tUSER\tCREATED\tEXPIRES\tLAST USED\tREVOKED")
	for _, t := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, cell(t.Name, 40), t.Scope, t.UserID,
			timeText(&t.CreatedAt), timeText(t.ExpiresAt), timeText(t.LastUsedAt), timeText(t.RevokedAt))
	}
	return tw.Flush()
}

func tokenRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token revoke", stderr)
	company := fs.String("company", "", "(optional) the token's company; looked up by id when left out")
	st, done, pos, err := openStore(ctx, fs, args)
	if err != nil {
		return err
	}
	defer done()
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: flowd token revoke [--company UUID] TOKEN_ID")
		return errUsage
	}
	id, err := uuid.Parse(pos[0])
	if err != nil {
		return fmt.Errorf("token id %q is not a UUID", pos[0])
	}
	var companyID uuid.UUID
	if *company != "" {
		companyID, err = parseUUID("company", *company)
	} else {
		companyID, err = st.TokenCompany(ctx, id)
	}
	if err != nil {
		return fmt.Errorf("token %s: %w", id, err)
	}
	t, err := auth.Revoke(ctx, st, nil, companyID, id)
	if err != nil {
		return fmt.Errorf("token %s: %w", id, err)
	}
	fmt.Fprintf(stdout, "token %s (%q, scope %s) revoked at %s; every flowd process refuses it within %s\n",
		t.ID, t.Name, t.Scope, timeText(t.RevokedAt), auth.CacheTTL)
	return nil
}

// orNever formats an expiry.
func orNever(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return timeText(t)
}
