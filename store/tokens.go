package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
)

// TokenInsert stores a new API token by its hash; the plain token is never
// stored.
func (s *Store) TokenInsert(ctx context.Context, id, companyID, userID uuid.UUID, name string, hash []byte) error {
	_, err := s.pool.Exec(ctx,
		`INSERT INTO api_tokens (id, company_id, user_id, name, token_hash) VALUES ($1, $2, $3, $4, $5)`,
		id, companyID, userID, name, hash)
	if err != nil {
		return fmt.Errorf("insert token: %w", interpretError(err))
	}
	return nil
}

// TokenGetByHash returns the principal of the unrevoked token with the given
// hash, or ErrNotFound.
func (s *Store) TokenGetByHash(ctx context.Context, hash []byte) (*flow.Principal, error) {
	var p flow.Principal
	var stored []byte
	err := s.pool.QueryRow(ctx,
		`SELECT id, company_id, user_id, token_hash FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL`,
		hash).Scan(&p.TokenID, &p.CompanyID, &p.UserID, &stored)
	if err != nil {
		return nil, interpretError(err)
	}
	p.TokenHash = stored
	return &p, nil
}
