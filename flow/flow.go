package flow

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Flow statuses, as written in the seed API (always lower case on output).
const (
	FlowStatusScheduled  = "scheduled"
	FlowStatusInProgress = "in-progress"
	FlowStatusRunning    = "running"
	FlowStatusFailed     = "failed"
	FlowStatusStopped    = "stopped"
	FlowStatusDeleted    = "deleted"
)

// Execution statuses. ExecutionStatusCancelled is flowd's addition for
// operator cancels.
const (
	ExecutionStatusScheduled  = "scheduled"
	ExecutionStatusInProgress = "in_progress"
	ExecutionStatusSuccess    = "success"
	ExecutionStatusFailed     = "failed"
	ExecutionStatusCancelled  = "cancelled"
)

// Flow directions.
const (
	DirectionInbound  = "inbound"
	DirectionOutbound = "outbound"
)

// Flow is a stored flow: the seed's flow object, field for field, plus the
// fields flowd adds (Schedule, Version). Its JSON encoding is the public API
// representation.
type Flow struct {
	ID                  uuid.UUID            `json:"id"`
	CreatedBy           uuid.UUID            `json:"created_by"`
	CompanyID           uuid.UUID            `json:"company_id"`
	WorkspaceID         string               `json:"workspace_id"`
	Name                string               `json:"name"`
	Logo                string               `json:"logo"`
	RetryDelay          int                  `json:"retry_delay"`
	RetryDelayUnit      string               `json:"retry_delay_unit"`
	MaxRetries          int                  `json:"max_retries"`
	Status              string               `json:"status"`
	CreatedAt           time.Time            `json:"created_at"`
	UpdatedAt           time.Time            `json:"updated_at"`
	Executions          []ExecutionSummary   `json:"executions"`
	Steps               []Step               `json:"steps"`
	IsTemplate          bool                 `json:"is_template"`
	FlowDirection       string               `json:"flow_direction"`
	FlowMapping         json.RawMessage      `json:"flow_mapping"`
	TagName             string               `json:"tag_name"`
	CategoryName        string               `json:"category_name"`
	DeletedAt           *time.Time           `json:"deleted_at"`
	PredefinedVariables []PredefinedVariable `json:"predefinedVariables"`
	Variables           []Variable           `json:"variables"`

	// Schedule is an optional cron expression (UTC); flowd's addition.
	Schedule *string `json:"schedule"`
	// Version counts definition changes; an execution runs the version it
	// started with.
	Version int `json:"version"`
	// HasSigningSecret tells whether outbound requests carry Standard
	// Webhooks signature headers. The secret itself is never returned
	// after creation.
	HasSigningSecret bool `json:"has_signing_secret"`
	// PropagateTrace tells whether outbound requests carry the W3C
	// traceparent and tracestate headers (when tracing is on); default
	// true, false for destinations that refuse unknown headers.
	PropagateTrace bool `json:"propagate_trace"`
}

// Step is one HTTP call of a flow.
type Step struct {
	ID               uuid.UUID       `json:"id"`
	StepNumber       int             `json:"step_number"`
	WebhookURL       string          `json:"webhook_url"`
	WebhookMethod    string          `json:"webhook_method"`
	WebhookTimeout   int             `json:"webhook_timeout"`
	RetryLimit       int             `json:"retry_limit"`
	Timeout          int             `json:"timeout"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
	WebhookURLParams json.RawMessage `json:"webhook_url_params"`
	WebhookHeaders   json.RawMessage `json:"webhook_headers"`
	WebhookBody      json.RawMessage `json:"webhook_body"`
	DependsOnStep    *int            `json:"depends_on_step"`
	SuccessCondition json.RawMessage `json:"success_condition"`
	DeletedAt        *time.Time      `json:"deleted_at"`
}

// PredefinedVariable is a constant of the flow, overridable at clone and
// trigger time. Value is any JSON value (the seed shows strings); the value
// of a secret is a string, write-only: its JSON encoding (every answer)
// shows it as null.
type PredefinedVariable struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
	// Secret marks a value that is never answered, is encrypted at rest
	// and is masked by value in records, logs and errors.
	Secret bool `json:"secret,omitempty"`
}

// MarshalJSON writes the variable as answers show it: a secret's value is
// null. Code that needs a secret's value reads the field, never the JSON.
func (pv PredefinedVariable) MarshalJSON() ([]byte, error) {
	type shown PredefinedVariable // without this method
	if pv.Secret {
		pv.Value = json.RawMessage("null")
	}
	return json.Marshal(shown(pv))
}

// Variable extraction types.
const (
	VarTypeBody   = "body"
	VarTypeHeader = "header"
	VarTypeStatus = "status"
	VarTypeCustom = "custom"
)

// Variable data types.
const (
	DataTypeString  = "string"
	DataTypeNumber  = "number"
	DataTypeInteger = "integer"
	DataTypeBoolean = "boolean"
	DataTypeObject  = "object"
	DataTypeArray   = "array"
)

// Variable is a value extracted from a step's response when it finishes.
type Variable struct {
	Name        string `json:"name"`
	Location    string `json:"location"`
	StepID      int    `json:"stepId"`
	Type        string `json:"type"`
	DataType    string `json:"dataType"`
	CustomValue string `json:"customValue"`
}

// ExecutionSummary is the execution object embedded in a flow, with the
// seed's fields.
type ExecutionSummary struct {
	ID            uuid.UUID  `json:"id"`
	Status        string     `json:"status"`
	AttemptNumber int        `json:"attempt_number"`
	ExecutedAt    *time.Time `json:"executed_at"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	NextRetryAt   *time.Time `json:"next_retry_at"`
	FinishedAt    *time.Time `json:"finished_at"`
	ErrorMessage  *string    `json:"error_message"`
}
