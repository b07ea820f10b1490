package testdb

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TextDump returns the content of every text, varchar, json and jsonb
// column of every table in the database's public schema (flowd's and
// River's), one value a line: what a test searches for a secret that must
// never be stored in clear.
func TextDump(tb testing.TB, pool *pgxpool.Pool) string {
	tb.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'json', 'jsonb')
		ORDER BY table_name, column_name`)
	if err != nil {
		tb.Fatalf("list text columns: %v", err)
	}
	cols, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2]string, error) {
		var c [2]string
		return c, row.Scan(&c[0], &c[1])
	})
	if err != nil || len(cols) == 0 {
		tb.Fatalf("list text columns: %d found, %v", len(cols), err)
	}
	var out strings.Builder
	for _, c := range cols {
		var text string
		q := fmt.Sprintf(`SELECT coalesce(string_agg(%s::text, E'\n'), '') FROM %s`,
			pgx.Identifier{c[1]}.Sanitize(), pgx.Identifier{c[0]}.Sanitize())
		if err := pool.QueryRow(ctx, q).Scan(&text); err != nil {
			tb.Fatalf("dump %s.%s: %v", c[0], c[1], err)
		}
		out.WriteString(text)
		out.WriteByte('\n')
	}
	return out.String()
}
