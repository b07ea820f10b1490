// Package store holds every SQL statement of flowd, run through pgx. It turns
// rows into the domain types of package engine in one place per table and
// turns pgx.ErrNoRows and unique violations into the sentinel errors
// ErrNotFound and ErrConflict. It must not make decisions that belong to
// the engine (what runs next, what a status means); it only reads and
// writes what it is told.
package store
