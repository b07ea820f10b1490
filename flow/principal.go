package flow

import "github.com/google/uuid"

// Principal is who an API request acts for: the company and user an API
// token was issued to.
type Principal struct {
	TokenID   uuid.UUID
	CompanyID uuid.UUID
	UserID    uuid.UUID
	// TokenHash is the stored hash, compared again in constant time.
	TokenHash []byte
}
