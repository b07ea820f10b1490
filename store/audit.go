package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Audit actions (SPEC "Tokens, scopes and audit"): what AuditEntry.Action
// holds.
const (
	AuditFlowCreate           = "flow.create"
	AuditFlowUpdate           = "flow.update"
	AuditFlowDelete           = "flow.delete"
	AuditFlowStop             = "flow.stop"
	AuditFlowResume           = "flow.resume"
	AuditFlowClone            = "flow.clone"
	AuditFlowHookSecretRotate = "flow.hook_secret_rotate"
	// AuditFlowSigningSecretRotate is flowd's addition to the SPEC's list.
	AuditFlowSigningSecretRotate = "flow.signing_secret_rotate"
	AuditTokenCreate             = "token.create"
	AuditTokenRevoke             = "token.revoke"
	AuditExecutionCancel         = "execution.cancel"
	AuditExecutionRetry          = "execution.retry"
)

// Audit target types: what AuditEntry.TargetType holds.
const (
	AuditTargetFlow      = "flow"
	AuditTargetToken     = "token"
	AuditTargetExecution = "execution"
)

// AuditEntry is a row of audit_log: one change, written in the change's
// own transaction. Summary says what changed and never holds a secret.
type AuditEntry struct {
	ID         uuid.UUID `json:"id"`
	CompanyID  uuid.UUID `json:"-"`
	At         time.Time `json:"at"`
	Action     string    `json:"action"`
	TargetType string    `json:"target_type"`
	TargetID   uuid.UUID `json:"target_id"`
	// The actor is the token of the request and its user; both nil for a
	// change made with the CLI, which holds no token.
	ActorTokenID *uuid.UUID `json:"actor_token_id"`
	ActorUserID  *uuid.UUID `json:"actor_user_id"`
	Summary      string     `json:"summary"`
}

const auditColumns = `id, company_id, at, action, target_type, target_id, actor_token_id, actor_user_id, summary`

func scanAudit(row pgx.Row) (*AuditEntry, error) {
	var e AuditEntry
	err := row.Scan(&e.ID, &e.CompanyID, &e.At, &e.Action, &e.TargetType, &e.TargetID,
		&e.ActorTokenID, &e.ActorUserID, &e.Summary)
	return &e, err
}

// AuditInsert writes an entry of the company e.CompanyID, setting its id
// and time. Call it on the Store of the change's transaction, so that the
// entry and the change commit or roll back together.
func (s *Store) AuditInsert(ctx context.Context, e *AuditEntry) error {
	if err := requireCompany("insert audit entry", e.CompanyID); err != nil {
		return err
	}
	e.ID = uuid.New()
	err := s.db.QueryRow(ctx, `INSERT INTO audit_log (id, company_id, action, target_type, target_id,
		actor_token_id, actor_user_id, summary) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING at`,
		e.ID, e.CompanyID, e.Action, e.TargetType, e.TargetID, e.ActorTokenID, e.ActorUserID, e.Summary).Scan(&e.At)
	if err != nil {
		return fmt.Errorf("insert audit entry: %w", err)
	}
	return nil
}

// AuditList returns the company's audit entries newest first, only those
// about targetID unless it is uuid.Nil, after cursor when given (the same
// kind of (time, id) cursor as executions'). It returns the cursor of the
// next page, or nil at the end.
func (s *Store) AuditList(ctx context.Context, companyID, targetID uuid.UUID, limit int, after *ExecutionCursor) ([]*AuditEntry, *ExecutionCursor, error) {
	if err := requireCompany("list audit entries", companyID); err != nil {
		return nil, nil, err
	}
	var target *uuid.UUID
	if targetID != uuid.Nil {
		target = &targetID
	}
	afterTime, afterID := after.args()
	list, err := queryAll(ctx, s.db, "list audit entries", scanAudit, `SELECT `+auditColumns+` FROM audit_log
		WHERE company_id = $1 AND ($2::uuid IS NULL OR target_id = $2)
		  AND ($3::timestamptz IS NULL OR (at, id) < ($3, $4))
		ORDER BY at DESC, id DESC LIMIT $5`, companyID, target, afterTime, afterID, limit+1)
	if err != nil {
		return nil, nil, err
	}
	list, next := nextPage(list, limit, func(e *AuditEntry) ExecutionCursor {
		return ExecutionCursor{CreatedAt: e.At, ID: e.ID}
	})
	return list, next, nil
}
