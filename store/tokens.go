package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Token is a row of api_tokens: an API token by its hash (the plain token
// is never stored). Package auth turns it into the principal a request
// acts for.
type Token struct {
	ID        uuid.UUID
	CompanyID uuid.UUID
	UserID    uuid.UUID
	Name      string
	// Hash is the token's hash (auth.HashToken).
	Hash []byte
	// Scope is read, trigger or admin (auth.Scope).
	Scope     string
	CreatedAt time.Time
	// ExpiresAt is when the token stops working; nil for never.
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

const tokenColumns = `id, company_id, user_id, name, token_hash, scope, created_at, expires_at, last_used_at, revoked_at`

// scanToken scans tokenColumns.
func scanToken(row pgx.Row) (*Token, error) {
	var t Token
	err := row.Scan(&t.ID, &t.CompanyID, &t.UserID, &t.Name, &t.Hash, &t.Scope, &t.CreatedAt,
		&t.ExpiresAt, &t.LastUsedAt, &t.RevokedAt)
	return &t, err
}

// TokenInsert stores a new API token of the company t.CompanyID, setting
// t.CreatedAt.
func (s *Store) TokenInsert(ctx context.Context, t *Token) error {
	if err := requireCompany("insert token", t.CompanyID); err != nil {
		return err
	}
	err := s.db.QueryRow(ctx, `INSERT INTO api_tokens (id, company_id, user_id, name, token_hash, scope, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at`,
		t.ID, t.CompanyID, t.UserID, t.Name, t.Hash, t.Scope, t.ExpiresAt).Scan(&t.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert token: %w", interpretError(err))
	}
	return nil
}

// TokenGetByHash returns the unrevoked token with the given hash, whatever
// its company: it is how a request's company is learnt. An expired token
// is returned (package auth refuses it by its own clock, which also bounds
// its cache). A token stored for the zero company (only SQL by hand can
// write one) answers ErrNoCompany: it never acts for anyone.
func (s *Store) TokenGetByHash(ctx context.Context, hash []byte) (*Token, error) {
	t, err := scanToken(s.db.QueryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens
		WHERE token_hash = $1 AND revoked_at IS NULL`, hash))
	if err != nil {
		return nil, fmt.Errorf("get token: %w", interpretError(err))
	}
	if err := requireCompany("get token", t.CompanyID); err != nil {
		return nil, err
	}
	return t, nil
}

// TokenList returns the company's tokens, revoked and expired ones
// included, newest first.
func (s *Store) TokenList(ctx context.Context, companyID uuid.UUID) ([]*Token, error) {
	if err := requireCompany("list tokens", companyID); err != nil {
		return nil, err
	}
	return queryAll(ctx, s.db, "list tokens", scanToken, `SELECT `+tokenColumns+` FROM api_tokens
		WHERE company_id = $1 ORDER BY created_at DESC, id DESC`, companyID)
}

// TokenRevoke revokes a token of the company and returns it; revoking a
// revoked token keeps its first revoked_at. Processes that cached it stop
// accepting it within auth.CacheTTL.
func (s *Store) TokenRevoke(ctx context.Context, companyID, id uuid.UUID) (*Token, error) {
	if err := requireCompany("revoke token", companyID); err != nil {
		return nil, err
	}
	t, err := scanToken(s.db.QueryRow(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())
		WHERE id = $1 AND company_id = $2 RETURNING `+tokenColumns, id, companyID))
	if err != nil {
		return nil, fmt.Errorf("revoke token: %w", interpretError(err))
	}
	return t, nil
}

// TokenTouch records that a token was used now, unless that was recorded
// less than minGap ago (by any process): last_used_at costs at most one
// write per token per minGap.
func (s *Store) TokenTouch(ctx context.Context, id uuid.UUID, minGap time.Duration) error {
	_, err := s.db.Exec(ctx, `UPDATE api_tokens SET last_used_at = now()
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= now() - $2::interval)`, id, minGap)
	if err != nil {
		return fmt.Errorf("touch token: %w", err)
	}
	return nil
}

// TokenCompany returns the company of a token, whatever it is: the
// operator's `flowd token revoke ID` names a token by id only.
func (s *Store) TokenCompany(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
	var company uuid.UUID
	if err := s.db.QueryRow(ctx, `SELECT company_id FROM api_tokens WHERE id = $1`, id).Scan(&company); err != nil {
		return uuid.Nil, fmt.Errorf("get token: %w", interpretError(err))
	}
	return company, nil
}
