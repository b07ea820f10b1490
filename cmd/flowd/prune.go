package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/flowd/flowd/retention"
	"github.com/flowd/flowd/store"
)

// runPrune handles `flowd prune [--dry-run] [--older-than D]`: one prune
// cycle now (the one `flowd serve` runs every FLOWD_PRUNE_INTERVAL), or,
// with --dry-run, the count of what it would delete.
func runPrune(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("prune", stderr)
	e := newEnvFlags(fs)
	e.helpOut = stdout
	var dbURL string
	var olderThan time.Duration
	e.str(&dbURL, "database-url", "DATABASE_URL", "", "PostgreSQL connection string")
	e.required["database-url"] = true
	e.dur(&olderThan, "older-than", "FLOWD_RETENTION", retention.RetentionDefault, "delete what finished (or was deleted, revoked) longer ago than this; 0 keeps everything")
	dryRun := fs.Bool("dry-run", false, "print what would be deleted, per table, and change nothing")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: flowd prune [--dry-run] [--older-than D]\n\nDeletes once what is past the retention, in batches, and prints the rows\ndeleted per table; with --dry-run prints what would go and changes nothing.\nWaits for no other pruner: when one is running, exits 1.\n\n%s\n\nFlags:\n", configPrecedence)
		e.printFlags(w)
	}
	rest, err := e.parse(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError(fs, "unexpected arguments: %v", rest)
	}
	if olderThan < 0 {
		return usageError(fs, "--older-than must be 0 (keep everything) or more, not %s", olderThan)
	}
	if olderThan == 0 {
		fmt.Fprintln(stdout, "--older-than is 0: everything is kept, nothing to prune")
		return nil
	}
	log := newLogger(stderr, "text", LogLevelDefault)
	pool, err := migratedPool(ctx, dbURL, log)
	if err != nil {
		return err
	}
	defer pool.Close()
	// The pruner reads no secret: no keys needed.
	p := retention.New(store.New(pool, nil), &retention.Config{Logger: log})
	cutoff := retention.Cutoff(olderThan)
	if *dryRun {
		counts, err := p.DryRun(ctx, cutoff)
		if err != nil {
			return err
		}
		printPruned(stdout, "would delete", cutoff, counts)
		return nil
	}
	c, err := p.Prune(ctx, cutoff)
	if err != nil {
		printPruned(stdout, "deleted before the error", cutoff, c.Pruned)
		return err
	}
	if !c.Ran {
		return fmt.Errorf("another process is pruning now; nothing done")
	}
	printPruned(stdout, "deleted", cutoff, c.Pruned)
	return nil
}

// printPruned prints one line per table, in the pruner's order.
func printPruned(w io.Writer, what string, cutoff time.Time, counts store.Pruned) {
	fmt.Fprintf(w, "%s (older than %s):\n", what, cutoff.UTC().Format(time.RFC3339))
	tw := newTable(w)
	fmt.Fprintln(tw, "TABLE\tROWS")
	for _, t := range retention.Tables() {
		fmt.Fprintf(tw, "%s\t%d\n", t, counts[t])
	}
	_ = tw.Flush()
}
