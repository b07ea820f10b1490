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
	{"revoke", "revoke a token by id: every process refuses it within " + auth.CacheTTL.String(), tokenRevoke},
}

// parseStoreFlags parses a token subcommand's flags (fs, to which it adds
// --database-url; flags before or after the arguments) and returns the
// database URL and the positional arguments. Each command checks its own
// flags next and only then calls openStore, so a mistyped flag is named
// before any database error (or a missing DATABASE_URL).
func parseStoreFlags(fs *flag.FlagSet, args []string) (dbURL string, pos []string, err error) {
	u := databaseURLFlag(fs)
	if pos, err = newEnvFlags(fs).parse(args); err != nil {
		return "", nil, err
	}
	return *u, pos, nil
}

// parseCompanyFlags is parseStoreFlags for a command about one company's
// tokens: company is its --company flag (required, a UUID).
func parseCompanyFlags(fs *flag.FlagSet, args []string, company *string) (dbURL string, companyID uuid.UUID, err error) {
	if dbURL, _, err = parseStoreFlags(fs, args); err != nil {
		return "", uuid.Nil, err
	}
	companyID, err = parseUUID("company", *company)
	return dbURL, companyID, err
}

// openStore opens the migrated database at dbURL; call done when finished.
func openStore(ctx context.Context, dbURL string) (st *store.Store, done func(), err error) {
	pool, err := migratedPool(ctx, dbURL, nil)
	if err != nil {
		return nil, nil, err
	}
	// Tokens are hashed, not sealed: no encryption key is needed here.
	return store.New(pool, nil), pool.Close, nil
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
	company := fs.String("company", "", "company the token acts for (UUID, required)")
	user := fs.String("user", "", "user recorded as created_by of flows made with the token (UUID, required)")
	name := fs.String("name", "", "a label for the token")
	scope := fs.String("scope", string(auth.ScopeAdmin), "read (every GET), trigger (read + triggers, events, cancel, retry) or admin (everything)")
	expires := fs.String("expires", "", "lifetime, e.g. 90d or 12h; empty for a token that never expires")
	dbURL, companyID, err := parseCompanyFlags(fs, args, company)
	if err != nil {
		return err
	}
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
	st, done, err := openStore(ctx, dbURL)
	if err != nil {
		return err
	}
	defer done()
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
	fs := newFlagSet("token list", stderr)
	company := fs.String("company", "", "company whose tokens to list (UUID, required)")
	dbURL, companyID, err := parseCompanyFlags(fs, args, company)
	if err != nil {
		return err
	}
	st, done, err := openStore(ctx, dbURL)
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
	dbURL, pos, err := parseStoreFlags(fs, args)
	if err != nil {
		return err
	}
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
		if companyID, err = parseUUID("company", *company); err != nil {
			return err
		}
	}
	st, done, err := openStore(ctx, dbURL)
	if err != nil {
		return err
	}
	defer done()
	if companyID == uuid.Nil {
		if companyID, err = st.TokenCompany(ctx, id); err != nil {
			return fmt.Errorf("token %s: %w", id, err)
		}
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
