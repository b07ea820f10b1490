// Package store holds every SQL statement of flowd, run through pgx, and
// the migrator.
//
// One type, Store, runs every query on whatever it wraps: the connection
// pool (New) or one transaction (the Store that InTx hands to its
// function; Tx returns its pgx.Tx for River's *Tx methods, so a row and
// its job commit together). There are no separate transaction variants of
// the queries.
//
// Each table is read in one place: one scan function into a private row
// struct and one conversion into the domain types of package flow (River's
// jobRowFromInternal idea). The JSON stored inside columns has types of
// this package (documents.go), so the domain's JSON tags, which are the
// API's, never decide what is stored. Not-found and unique violations
// become the sentinel errors ErrNotFound and ErrConflict.
//
// Every function that acts for a company takes its id and refuses the
// zero id with ErrNoCompany: the zero id never means "any company". The
// few functions that must cross companies say so in their names
// (ExecutionsGetForRun, FlowDefinitionForRun, FlowHookSecretForHook) or
// serve a path that is not a tenant's (the group commit, the schedule
// loop, the rescuer, the token lookup).
//
// It must not make decisions that belong to the domain or the runner (what
// runs next, what a status means, whether a flow may be triggered); it
// reads and writes what it is told.
package store
