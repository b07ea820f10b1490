package flow

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Execution triggers.
const (
	TriggerManual   = "manual"
	TriggerSchedule = "schedule"
	TriggerHook     = "hook"
	// TriggerEvent marks an execution started by a published event
	// (events.go).
	TriggerEvent = "event"
)

// NewID returns the id of a new execution, event or step attempt: a
// version 7 UUID, whose leading bits are the time it was made, so that the
// rows inserted together sit together at the right end of their table's
// primary key index instead of on random pages of it. The time is already
// visible as the row's created_at.
func NewID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// Step states inside an execution.
const (
	StepPending   = "pending"
	StepRunning   = "running"
	StepWaiting   = "waiting" // waiting for its next attempt (retry delay)
	StepSuccess   = "success"
	StepFailed    = "failed"
	StepSkipped   = "skipped"
	StepCancelled = "cancelled"
)

// Outcomes of a step attempt (StepAttempt.Outcome).
const (
	// OutcomeSuccess: the response met the success condition and the
	// variables were extracted.
	OutcomeSuccess = "success"
	// OutcomeFailed: the attempt failed (connection error, timeout,
	// condition not met, extraction error).
	OutcomeFailed = "failed"
	// OutcomeInterrupted: the attempt was cut short by a stop or lost with
	// its worker; the request may have reached the target. It does not
	// count against retry_limit.
	OutcomeInterrupted = "interrupted"
	// OutcomeCancelled: the attempt was cut short by an operator cancel.
	OutcomeCancelled = "cancelled"
)

// Execution is one run of a flow, with the definition version it runs and
// the state of each of its steps.
type Execution struct {
	ExecutionSummary
	FlowID      uuid.UUID `json:"flow_id"`
	CompanyID   uuid.UUID `json:"-"`
	FlowVersion int       `json:"flow_version"`
	Trigger     string    `json:"trigger"`
	// ScheduledFor is the cron slot that produced a scheduled execution.
	ScheduledFor   *time.Time `json:"scheduled_for,omitempty"`
	IdempotencyKey *string    `json:"idempotency_key,omitempty"`
	// EventID is the published event that started the execution (trigger
	// "event").
	EventID *uuid.UUID      `json:"event_id,omitempty"`
	Payload json.RawMessage `json:"payload"`
	// Variables are the variables given at trigger time.
	Variables json.RawMessage `json:"variables"`
	// Steps is the state of each step, keyed by step number.
	Steps map[int]*StepState `json:"steps"`
	// Records holds what an inbound flow brought in (flow_mapping.records).
	Records json.RawMessage `json:"records,omitempty"`
	// Attempts are the step attempts, filled by the read endpoints only.
	Attempts []StepAttempt `json:"attempts,omitempty"`
	// JobID is the River job that runs the execution.
	JobID int64 `json:"-"`
}

// StepState is the progress of one step inside an execution.
type StepState struct {
	Status string `json:"status"`
	// Attempts counts the attempts of the step in the current execution
	// attempt; it restarts at 0 when the execution is retried.
	Attempts int `json:"attempts"`
	// FirstStartedAt is when the first attempt of this round started; the
	// step's whole `timeout` counts from it.
	FirstStartedAt *time.Time      `json:"first_started_at,omitempty"`
	NextAttemptAt  *time.Time      `json:"next_attempt_at,omitempty"`
	FinishedAt     *time.Time      `json:"finished_at,omitempty"`
	Error          string          `json:"error,omitempty"`
	Vars           json.RawMessage `json:"vars,omitempty"`
	// Permanent tells that retrying the step cannot help (blocked address,
	// unknown variable, step timeout spent).
	Permanent bool `json:"permanent,omitempty"`
}

// StepAttempt is the record of one HTTP attempt of a step: what was sent
// (secrets redacted) and what came back.
type StepAttempt struct {
	ID                uuid.UUID         `json:"id"`
	ExecutionID       uuid.UUID         `json:"execution_id"`
	StepNumber        int               `json:"step_number"`
	Attempt           int               `json:"attempt"`
	ExecutionAttempt  int               `json:"execution_attempt"`
	Outcome           string            `json:"outcome"` // one of the Outcome* constants
	RequestMethod     string            `json:"request_method"`
	RequestURL        string            `json:"request_url"`
	RequestHeaders    map[string]string `json:"request_headers"`
	RequestBody       string            `json:"request_body"`
	ResponseStatus    *int              `json:"response_status"`
	ResponseHeaders   map[string]string `json:"response_headers"`
	ResponseBody      string            `json:"response_body"`
	ResponseTruncated bool              `json:"response_truncated"`
	DurationMS        int64             `json:"duration_ms"`
	Error             string            `json:"error,omitempty"`
	Extracted         json.RawMessage   `json:"extracted"`
	WorkerID          string            `json:"worker_id,omitempty"`
	StartedAt         time.Time         `json:"started_at"`
	CreatedAt         time.Time         `json:"created_at"`
}
