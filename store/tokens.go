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
	Hash      []byte
	CreatedAt time.Time
}

const tokenColumns = `id, company_id, user_id, name, token_hash, created_at`

// scanToken scans tokenColumns.
func scanToken(row pgx.Row) (*Token, error) {
	var t Token
	err := row.Scan(&t.ID, &t.CompanyID, &t.UserID, &t.Name, &t.Hash, &t.CreatedAt)
	return &t, err
}

// TokenInsert stores a new API token of the company t.CompanyID, setting
// t.CreatedAt.
func (s *Store) TokenInsert(ctx context.Context, t *Token) error {
	if err := requireCompany("insert token", t.CompanyID); err != nil {
		return err
	}
	err := s.db.QueryRow(ctx, `INSERT INTO api_tokens (id, company_id, user_id, name, token_hash)
		VALUES ($1, $2, $3, $4, $5) RETURNING created_at`,
		t.ID, t.CompanyID, t.UserID, t.Name, t.Hash).Scan(&t.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert token: %w", interpretError(err))
	}
	return nil
}

// TokenGetByHash returns the unrevoked token with the given hash, whatever
// its company: it is how a request's company is learnt. A token stored
// for the zero company (only SQL by hand can write one) answers
// ErrNoCompany: it never acts for anyone.
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
