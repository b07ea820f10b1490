// Package migrations embeds flowd's SQL migrations. They are applied, after
// River's own migrations, by store.Migrate (`flowd migrate` and `flowd serve`
// start-up). Files are named NNN_name.up.sql / NNN_name.down.sql and are
// never edited once released: a change is a new file.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS
