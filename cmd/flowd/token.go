package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/google/uuid"

	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/store"
)

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("flowd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// runToken handles `flowd token create`.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: flowd token create --company UUID --user UUID [--name NAME]")
		return errUsage
	}
	fs := newFlagSet("token create", stderr)
	company := fs.String("company", "", "company the token acts for (UUID, required)")
	user := fs.String("user", "", "user recorded as created_by of flows made with the token (UUID, required)")
	name := fs.String("name", "", "a label for the token")
	dbURL := databaseURLFlag(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	companyID, err := uuid.Parse(*company)
	if err != nil {
		return fmt.Errorf("--company %q is not a UUID", *company)
	}
	userID, err := uuid.Parse(*user)
	if err != nil {
		return fmt.Errorf("--user %q is not a UUID", *user)
	}
	pool, err := migratedPool(ctx, *dbURL, nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	// The store refuses the zero company (store.ErrNoCompany). Tokens are
	// hashed, not sealed: no encryption key is needed here.
	token, _, err := auth.CreateToken(ctx, store.New(pool, nil), companyID, userID, *name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "API token for company %s (shown once; store it now):\n%s\n", companyID, token)
	return nil
}
