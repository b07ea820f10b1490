package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/keyring"
)

// ErrNotFound is returned when a row does not exist or belongs to another
// company (the two are indistinguishable on purpose).
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a change is refused by the current state of
// a row, for example editing a deleted flow. It is flow.ErrConflict, the
// error of the domain's rules, so that one errorStatus case answers both
// with 409.
var ErrConflict = flow.ErrConflict

// ErrNoCompany is returned by every query that acts for a company when it
// is given the zero company id. A zero id is a bug in the caller, never
// "any company": the few reads that must cross companies are separate
// functions named for the path that needs them (ExecutionsGetForRun,
// FlowDefinitionForRun, FlowHookSecretForHook).
var ErrNoCompany = errors.New("the company id is the zero UUID; a query for a company needs a real one")

// errNoTx is returned by a function whose row locks must outlive it when
// its Store is not bound to a transaction.
var errNoTx = errors.New("must run in a transaction (Store.InTx): its row locks must outlive the statement")

// dbtx is what a connection pool and a transaction have in common: every
// query of the package runs on one, so the same function serves both
// (River's riverdriver.Executor / ExecutorTx idea).
type dbtx interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Store runs flowd's queries, on the connection pool (New) or inside one
// transaction (the Store InTx hands to its function). Every query function
// is a method of Store and runs on whichever it wraps.
type Store struct {
	pool *pgxpool.Pool
	db   dbtx
	tx   pgx.Tx // db when the Store is bound to a transaction, else nil
	// keys seal and open the secrets stored in columns (secrets.go); nil
	// refuses every secret written or read sealed.
	keys *keyring.Ring
}

// New returns a Store running its queries on pool, sealing and opening
// stored secrets with keys (see package keyring).
func New(pool *pgxpool.Pool, keys *keyring.Ring) *Store {
	return &Store{pool: pool, db: pool, keys: keys}
}

// Pool returns the underlying pool (for River, which shares it).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.pool.Ping(ctx)
}

// InTx runs fn with a Store bound to a new transaction and commits when fn
// returns nil (rolls back otherwise). On a Store already bound to a
// transaction it opens a savepoint.
func (s *Store) InTx(ctx context.Context, fn func(tx *Store) error) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error { return fn(s.bound(tx)) })
}

// bound is the Store on transaction tx.
func (s *Store) bound(tx pgx.Tx) *Store { return &Store{pool: s.pool, db: tx, tx: tx, keys: s.keys} }

// InGroupTx is InTx for the writes of the trigger and publish groups (a
// batch of executions, events and their River jobs, each batch of another
// size): its statements use their generic plans. PostgreSQL otherwise
// makes a custom plan for many of their executions (the generic plan
// guesses ten rows for each unnest, a small batch costs less planned for
// its size): 297 plans for 1,619 executions inserts, 219 ms of planning
// against 1,409 ms executing, in a 12,000-execution run of the 3-step
// chain. The setting travels with BEGIN (one message, no round trip more)
// and ends with the transaction. On a Store already bound to a transaction
// it is InTx.
func (s *Store) InGroupTx(ctx context.Context, fn func(tx *Store) error) error {
	if s.tx != nil {
		return s.InTx(ctx, fn)
	}
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{BeginQuery: beginGeneric}, func(tx pgx.Tx) error { return fn(s.bound(tx)) })
}

// beginGeneric begins a transaction whose statements use their generic
// plans (InGroupTx). pgx sends a statement without arguments as a simple
// query, which may hold several; a BEGIN in it opens a transaction that
// outlives the message.
const beginGeneric = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan"

// Tx returns the transaction the Store is bound to, so River's InsertTx,
// InsertManyTx, JobGetTx and JobCancelTx join it; nil for a Store on the
// pool.
func (s *Store) Tx() pgx.Tx { return s.tx }

// requireTx refuses to run a function whose locks must outlive it outside
// a transaction.
func (s *Store) requireTx(doing string) error {
	if s.tx == nil {
		return fmt.Errorf("%s: %w", doing, errNoTx)
	}
	return nil
}

// requireCompany refuses the zero company id.
func requireCompany(doing string, companyID uuid.UUID) error {
	if companyID == uuid.Nil {
		return fmt.Errorf("%s: %w", doing, ErrNoCompany)
	}
	return nil
}

// interpretError turns driver errors into the package's sentinel errors.
func interpretError(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("%w: %s", ErrConflict, pgErr.ConstraintName)
	}
	return err
}

// collect scans every row of rows with scan.
func collect[T any](rows pgx.Rows, scan func(pgx.Row) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// queryAll runs a query on db and scans every row it returns with scan;
// its errors say what was being done (doing).
func queryAll[T any](ctx context.Context, db dbtx, doing string, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	list, err := collect(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	return list, nil
}

// scanID scans a row of one id.
func scanID(row pgx.Row) (id uuid.UUID, err error) {
	return id, row.Scan(&id)
}

// indexByID returns the ids of list, in order, and its elements by id: a
// fill function queries the ids and attaches what it reads to the
// elements.
func indexByID[T any](list []T, id func(T) uuid.UUID) ([]uuid.UUID, map[uuid.UUID]T) {
	ids := make([]uuid.UUID, len(list))
	byID := make(map[uuid.UUID]T, len(list))
	for i, v := range list {
		ids[i] = id(v)
		byID[ids[i]] = v
	}
	return ids, byID
}

// binaryUUIDs is ids as a uuid[] parameter that pgx sends in binary. A
// uuid.UUID is sent through its driver.Valuer, element by element: each
// one formatted as text and parsed back (6% of flowd's CPU on the event
// path, by the benchmark's profile); a [16]byte takes pgx's binary UUID
// path. The statements of the trigger and run paths pass their uuid
// arrays this way (building [][16]byte directly where they can: a
// uuid.UUID is assignable to [16]byte).
func binaryUUIDs(ids []uuid.UUID) [][16]byte {
	out := make([][16]byte, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
