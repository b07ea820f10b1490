package flow

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// ExecutionUpdate is the whole new state of an execution as its worker
// sees it; the group committer writes many of them in one transaction.
// An execution cancelled by an operator keeps its cancelled status and
// finished_at whatever the update says.
type ExecutionUpdate struct {
	ID            uuid.UUID          `json:"id"`
	Status        string             `json:"status"`
	AttemptNumber int                `json:"attempt_number"`
	Steps         map[int]*StepState `json:"steps"`
	ErrorMessage  *string            `json:"error_message"`
	ExecutedAt    *time.Time         `json:"executed_at"`
	NextRetryAt   *time.Time         `json:"next_retry_at"`
	FinishedAt    *time.Time         `json:"finished_at"`
	Records       json.RawMessage    `json:"records,omitempty"`
}
