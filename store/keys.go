package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/flowd/flowd/keyring"
)

// SecretsBatchDefault is how many rows one transaction of a walk over the
// stored secrets reads and rewrites: small enough that its row locks never
// hold up the API or the workers for long.
const SecretsBatchDefault = 200

// SecretsReport says what a walk over the stored secrets found.
type SecretsReport struct {
	// Values counts the secrets seen; Plaintext those still in clear
	// (written before encryption at rest); Rewritten those written back.
	Values, Plaintext, Rewritten int
	// ByKey counts the sealed secrets by the id of the key that sealed
	// them (before any rewrite).
	ByKey map[string]int
}

// KeyIDs returns the ids of the keys the walk saw in use, sorted.
func (r *SecretsReport) KeyIDs() []string { return slices.Sorted(maps.Keys(r.ByKey)) }

// change is what a walk does to one stored secret: the value to store and
// whether it differs.
type change func(stored string) (string, bool, error)

// SecretsVerify opens every stored secret with the configured keys,
// writing nothing. It fails, naming the key id, on the first value sealed
// with a key that is not configured or that the key of its id does not
// open: start-up refuses to go on rather than overwrite anything.
func (s *Store) SecretsVerify(ctx context.Context) (*SecretsReport, error) {
	return s.walkSecrets(ctx, SecretsBatchDefault, false, func(stored string) (string, bool, error) {
		_, err := s.open(stored)
		return stored, false, err
	})
}

// SecretsSealPlaintext seals the secrets still stored in clear (rows of an
// install from before encryption at rest) and leaves the others alone.
func (s *Store) SecretsSealPlaintext(ctx context.Context, batch int) (*SecretsReport, error) {
	return s.walkSecrets(ctx, batch, true, func(stored string) (string, bool, error) {
		if keyring.IsSealed(stored) {
			return stored, false, nil
		}
		sealed, err := s.seal(stored)
		return sealed, err == nil, err
	})
}

// SecretsRotate seals every stored secret under the first key: values in
// clear or sealed under another key are rewritten, batch rows per
// transaction, while flowd keeps running (every process must already
// hold the new key, first or not, to read what is rewritten).
func (s *Store) SecretsRotate(ctx context.Context, batch int) (*SecretsReport, error) {
	if s.keys == nil {
		return nil, errNoKeys
	}
	return s.walkSecrets(ctx, batch, true, s.keys.Reseal)
}

// walkSecrets applies ch to every stored secret, batch rows at a time;
// when write is set each batch locks its rows and writes the changed ones
// back in one transaction.
func (s *Store) walkSecrets(ctx context.Context, batch int, write bool, ch change) (*SecretsReport, error) {
	if batch <= 0 {
		batch = SecretsBatchDefault
	}
	rep := &SecretsReport{ByKey: map[string]int{}}
	count := func(stored string) (string, bool, error) {
		rep.Values++
		if id := keyring.KeyID(stored); id != "" {
			rep.ByKey[id]++
		} else {
			rep.Plaintext++
		}
		out, changed, err := ch(stored)
		if changed {
			rep.Rewritten++
		}
		return out, changed, err
	}
	for _, t := range []secretTable{flowsSecrets, versionsSecrets, executionsSecrets} {
		if err := s.walkTable(ctx, t, batch, write, count); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// secretTable is a table holding secrets: how to read a batch of its rows
// after a key, and how to rewrite one.
type secretTable struct {
	name string
	// query selects (key, columns...) of the rows after $1 (nil: from the
	// start), ordered by key, at most $2.
	query string
	// apply reads one row's key, applies ch to its secrets and returns the
	// UPDATE (nil when nothing changed).
	apply func(row pgx.Row, ch change) (key any, upd *pgx.QueuedQuery, err error)
}

// flowsSecrets are flows.hook_secret, signing_secret,
// signing_secret_previous and the secret values in
// flows.predefined_variables.
var flowsSecrets = secretTable{
	name: "flows",
	query: `SELECT id, hook_secret, signing_secret, signing_secret_previous, predefined_variables FROM flows
		WHERE $1::uuid IS NULL OR id > $1::uuid ORDER BY id LIMIT $2`,
	apply: func(row pgx.Row, ch change) (any, *pgx.QueuedQuery, error) {
		var id uuid.UUID
		var hook string
		var signing, previous *string
		var predefined json.RawMessage
		if err := row.Scan(&id, &hook, &signing, &previous, &predefined); err != nil {
			return nil, nil, err
		}
		fail := func(what string, err error) (any, *pgx.QueuedQuery, error) {
			return id, nil, fmt.Errorf("flow %s %s: %w", id, what, err)
		}
		hook, hookChanged, err := ch(hook)
		if err != nil {
			return fail("hook_secret", err)
		}
		signing, signingChanged, err := changeOptional(signing, ch)
		if err != nil {
			return fail("signing_secret", err)
		}
		previous, previousChanged, err := changeOptional(previous, ch)
		if err != nil {
			return fail("signing_secret_previous", err)
		}
		var docs []predefinedVariableDoc
		if err := unmarshalDoc(predefined, &docs); err != nil {
			return fail("predefined_variables", err)
		}
		predefinedChanged, err := changeDocs(docs, ch)
		if err != nil {
			return fail("predefined_variables", err)
		}
		if !hookChanged && !signingChanged && !previousChanged && !predefinedChanged {
			return id, nil, nil
		}
		return id, &pgx.QueuedQuery{SQL: `UPDATE flows SET hook_secret = $2, signing_secret = $3,
			signing_secret_previous = $4, predefined_variables = $5 WHERE id = $1`,
			Arguments: []any{id, hook, signing, previous, mustJSON(docs)}}, nil
	},
}

// changeOptional applies ch to a secret that may be NULL.
func changeOptional(v *string, ch change) (*string, bool, error) {
	if v == nil {
		return nil, false, nil
	}
	out, changed, err := ch(*v)
	return &out, changed, err
}

// versionKey is the key of a flow_versions row.
type versionKey struct {
	flowID  uuid.UUID
	version int
}

// versionsSecrets are the secret predefined values in
// flow_versions.definition.
var versionsSecrets = secretTable{
	name: "flow_versions",
	query: `SELECT flow_id, version, definition FROM flow_versions
		WHERE $1::text IS NULL OR (flow_id, version) > (split_part($1::text, '/', 1)::uuid, split_part($1::text, '/', 2)::int)
		ORDER BY flow_id, version LIMIT $2`,
	apply: func(row pgx.Row, ch change) (any, *pgx.QueuedQuery, error) {
		var k versionKey
		var raw json.RawMessage
		if err := row.Scan(&k.flowID, &k.version, &raw); err != nil {
			return nil, nil, err
		}
		key := fmt.Sprintf("%s/%d", k.flowID, k.version)
		var doc definitionDoc
		if err := json.Unmarshal(raw, &doc); err != nil {
			return key, nil, fmt.Errorf("flow %s version %d: %w", k.flowID, k.version, err)
		}
		changed, err := changeDocs(doc.PredefinedVariables, ch)
		if err != nil {
			return key, nil, fmt.Errorf("flow %s version %d: %w", k.flowID, k.version, err)
		}
		if !changed {
			return key, nil, nil
		}
		return key, &pgx.QueuedQuery{SQL: `UPDATE flow_versions SET definition = $3 WHERE flow_id = $1 AND version = $2`,
			Arguments: []any{k.flowID, k.version, mustJSON(doc)}}, nil
	},
}

// executionsSecrets are the trigger values of secret variables in
// executions.variables (SealVariables); the partial index of migration 006
// finds the few rows that hold one.
var executionsSecrets = secretTable{
	name: "executions",
	query: `SELECT id, variables FROM executions
		WHERE variables::text LIKE '%"fdenc:1:%' AND ($1::uuid IS NULL OR id > $1::uuid) ORDER BY id LIMIT $2`,
	apply: func(row pgx.Row, ch change) (any, *pgx.QueuedQuery, error) {
		var id uuid.UUID
		var vars map[string]json.RawMessage
		if err := row.Scan(&id, &vars); err != nil {
			return nil, nil, err
		}
		changed := false
		for name, v := range vars {
			sealed, ok := sealedJSON(v)
			if !ok {
				continue
			}
			out, c, err := ch(sealed)
			if err != nil {
				return id, nil, fmt.Errorf("execution %s variable %q: %w", id, name, err)
			}
			if c {
				vars[name], changed = mustJSON(out), true
			}
		}
		if !changed {
			return id, nil, nil
		}
		return id, &pgx.QueuedQuery{SQL: `UPDATE executions SET variables = $2 WHERE id = $1`,
			Arguments: []any{id, mustJSON(vars)}}, nil
	},
}

// changeDocs applies ch to the sealed values of the secret variables in
// docs, in place. Secret values are sealed from their first write, so one
// that is not a sealed string (null) is left alone.
func changeDocs(docs []predefinedVariableDoc, ch change) (bool, error) {
	changed := false
	for i := range docs {
		sealed, ok := sealedJSON(docs[i].Value)
		if !docs[i].Secret || !ok {
			continue
		}
		v, c, err := ch(sealed)
		if err != nil {
			return false, fmt.Errorf("variable %q: %w", docs[i].Name, err)
		}
		if c {
			docs[i].Value, changed = mustJSON(v), true
		}
	}
	return changed, nil
}

// walkTable walks one table in batches (see walkSecrets).
func (s *Store) walkTable(ctx context.Context, t secretTable, batch int, write bool, ch change) error {
	var after any // nil: from the first row
	for {
		n := 0
		err := s.InTx(ctx, func(tx *Store) error {
			query := t.query
			if write {
				query += " FOR UPDATE"
			}
			rows, err := tx.db.Query(ctx, query, after, batch)
			if err != nil {
				return err
			}
			var updates pgx.Batch
			for rows.Next() {
				n++
				key, upd, err := t.apply(rows, ch)
				if err != nil {
					rows.Close()
					return err
				}
				after = key
				if upd != nil && write {
					updates.Queue(upd.SQL, upd.Arguments...)
				}
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if updates.Len() == 0 {
				return nil
			}
			return tx.db.SendBatch(ctx, &updates).Close()
		})
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		if n < batch {
			return nil
		}
	}
}
