package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/store"
)

// NewTokenRequest describes a token to issue.
type NewTokenRequest struct {
	CompanyID uuid.UUID
	// UserID is the user the token acts as (created_by of its flows).
	UserID uuid.UUID
	Name   string
	Scope  Scope
	// ExpiresAt is when the token stops working; nil for never.
	ExpiresAt *time.Time
}

// Issue stores a new token and its token.create audit entry in one
// transaction, made by actor (nil: the operator, from the CLI), and
// returns the plain token, shown once and never stored, and the stored
// row.
func Issue(ctx context.Context, st *store.Store, actor *Principal, req *NewTokenRequest) (string, *store.Token, error) {
	scope, err := ParseScope(string(req.Scope))
	if err != nil {
		return "", nil, err
	}
	token, hash := NewToken()
	t := &store.Token{ID: uuid.New(), CompanyID: req.CompanyID, UserID: req.UserID, Name: req.Name,
		Hash: hash, Scope: string(scope), ExpiresAt: req.ExpiresAt}
	err = st.InTx(ctx, func(tx *store.Store) error {
		if err := tx.TokenInsert(ctx, t); err != nil {
			return err
		}
		summary := fmt.Sprintf("token %q created for user %s with scope %s", t.Name, t.UserID, t.Scope)
		if t.ExpiresAt != nil {
			summary += ", expires " + t.ExpiresAt.UTC().Format(time.RFC3339)
		}
		return tx.AuditInsert(ctx, Audit(t.CompanyID, actor, store.AuditTokenCreate, store.AuditTargetToken, t.ID, summary))
	})
	if err != nil {
		return "", nil, fmt.Errorf("create token: %w", err)
	}
	return token, t, nil
}

// Revoke revokes a token of the company with its token.revoke audit entry
// in one transaction, made by actor (nil: the operator, from the CLI).
// Every process refuses it within CacheTTL.
func Revoke(ctx context.Context, st *store.Store, actor *Principal, companyID, id uuid.UUID) (*store.Token, error) {
	var t *store.Token
	err := st.InTx(ctx, func(tx *store.Store) error {
		var err error
		if t, err = tx.TokenRevoke(ctx, companyID, id); err != nil {
			return err
		}
		summary := fmt.Sprintf("token %q (scope %s) revoked", t.Name, t.Scope)
		return tx.AuditInsert(ctx, Audit(companyID, actor, store.AuditTokenRevoke, store.AuditTargetToken, id, summary))
	})
	return t, err
}

// Audit returns the audit entry of a change of the company made by actor
// (nil: the operator, from the CLI, who holds no token).
func Audit(companyID uuid.UUID, actor *Principal, action, targetType string, targetID uuid.UUID, summary string) *store.AuditEntry {
	e := &store.AuditEntry{CompanyID: companyID, Action: action, TargetType: targetType, TargetID: targetID, Summary: summary}
	if actor != nil {
		e.ActorTokenID, e.ActorUserID = &actor.TokenID, &actor.UserID
	}
	return e
}
