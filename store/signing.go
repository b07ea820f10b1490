package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
)

// The outbound signing secrets of a flow (flows.signing_secret,
// signing_secret_previous and signing_secret_previous_until) are read and
// written here only, as flow.SigningSecrets, so that how they are stored
// (encrypted at rest: sealed by writeSigningSecrets, opened by
// openSigningSecrets) is decided in one place; ExecutionsGetForRun selects
// signingColumns in its own statement and opens them the same way.
// Elsewhere only "signing_secret IS NOT NULL" is asked (has_signing_secret).

// signingColumns are the columns readSigningSecrets scans.
const signingColumns = `signing_secret, signing_secret_previous, signing_secret_previous_until`

// signingSecretsForUpdate reads and locks the signing secrets of a flow of
// the company that is not deleted; it must run in a transaction.
func (s *Store) signingSecretsForUpdate(ctx context.Context, companyID, id uuid.UUID) (flow.SigningSecrets, error) {
	return s.readSigningSecrets(ctx, `SELECT `+signingColumns+`
		FROM flows WHERE id = $1 AND company_id = $2 AND deleted_at IS NULL FOR UPDATE`, id, companyID)
}

// sealedSigningSecrets are signingColumns as stored (sealed, or nil).
type sealedSigningSecrets struct {
	current, previous *string
	previousUntil     *time.Time
}

// dest is where a scan of signingColumns goes.
func (r *sealedSigningSecrets) dest() []any {
	return []any{&r.current, &r.previous, &r.previousUntil}
}

// readSigningSecrets runs a query of one flow's three signing columns.
func (s *Store) readSigningSecrets(ctx context.Context, query string, args ...any) (flow.SigningSecrets, error) {
	var sealed sealedSigningSecrets
	if err := s.db.QueryRow(ctx, query, args...).Scan(sealed.dest()...); err != nil {
		return flow.SigningSecrets{}, interpretError(err)
	}
	return s.openSigningSecrets(sealed)
}

// openSigningSecrets opens the stored signing secrets of a flow.
func (s *Store) openSigningSecrets(sealed sealedSigningSecrets) (flow.SigningSecrets, error) {
	ss := flow.SigningSecrets{PreviousUntil: sealed.previousUntil}
	var err error
	if ss.Current, err = s.open(deref(sealed.current)); err != nil {
		return flow.SigningSecrets{}, fmt.Errorf("signing_secret: %w", err)
	}
	if ss.Previous, err = s.open(deref(sealed.previous)); err != nil {
		return flow.SigningSecrets{}, fmt.Errorf("signing_secret_previous: %w", err)
	}
	return ss, nil
}

// writeSigningSecrets stores the signing secrets of flow id.
func (s *Store) writeSigningSecrets(ctx context.Context, id uuid.UUID, ss flow.SigningSecrets) error {
	current, err := s.sealOptional(&ss.Current)
	if err != nil {
		return fmt.Errorf("store signing secret: %w", err)
	}
	previous, err := s.sealOptional(&ss.Previous)
	if err != nil {
		return fmt.Errorf("store signing secret: %w", err)
	}
	_, err = s.db.Exec(ctx, `UPDATE flows SET signing_secret = $2, signing_secret_previous = $3,
		signing_secret_previous_until = $4, updated_at = now() WHERE id = $1`, id, current, previous, ss.PreviousUntil)
	if err != nil {
		return fmt.Errorf("store signing secret: %w", err)
	}
	return nil
}

// rotateSigningSecret makes secret the current signing secret of a flow of
// the company at now (flow.SigningSecrets.Rotate); it must run in a
// transaction. A deleted or unknown flow answers ErrNotFound.
func (s *Store) rotateSigningSecret(ctx context.Context, companyID, id uuid.UUID, secret string, now time.Time) (flow.SigningSecrets, error) {
	ss, err := s.signingSecretsForUpdate(ctx, companyID, id)
	if err != nil {
		return flow.SigningSecrets{}, err
	}
	ss = ss.Rotate(secret, now)
	return ss, s.writeSigningSecrets(ctx, id, ss)
}

// setSigningSecret stores the signing secret a create or a replace gives,
// if any, as a rotation: on a replace the flow's previous secret keeps
// signing for the overlap. Without one the stored secrets stay as they are.
func (s *Store) setSigningSecret(ctx context.Context, companyID, id uuid.UUID, in *flow.FlowInput) error {
	if in.SigningSecret == nil || *in.SigningSecret == "" {
		return nil
	}
	_, err := s.rotateSigningSecret(ctx, companyID, id, *in.SigningSecret, time.Now())
	return err
}

// FlowRotateSigningSecret replaces the outbound signing secret of a flow of
// the company at now; the previous one keeps signing until the returned
// secrets' PreviousUntil. A flow that did not sign starts signing, with no
// overlap. A deleted or unknown flow answers ErrNotFound.
func (s *Store) FlowRotateSigningSecret(ctx context.Context, companyID, id uuid.UUID, secret string, now time.Time) (flow.SigningSecrets, error) {
	if err := requireCompany("rotate signing secret", companyID); err != nil {
		return flow.SigningSecrets{}, err
	}
	var ss flow.SigningSecrets
	err := s.InTx(ctx, func(tx *Store) error {
		var err error
		ss, err = tx.rotateSigningSecret(ctx, companyID, id, secret, now)
		return err
	})
	if err != nil {
		return flow.SigningSecrets{}, fmt.Errorf("rotate signing secret: %w", err)
	}
	return ss, nil
}

// deref returns *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
