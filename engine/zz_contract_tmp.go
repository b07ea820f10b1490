package engine

// TEMPORARY: mirrors the contract helper-1 is implementing; deleted on merge.

import (
	"encoding/json"
	"errors"
	"net/url"
	"time"

	"github.com/google/uuid"
)

type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}
type ValidationError struct{ Errors []FieldError }

func (e *ValidationError) Error() string { return "invalid" }

type FlowInput struct {
	WorkspaceID         string
	Name                string
	Logo                string
	RetryDelay          int
	RetryDelayUnit      string
	MaxRetries          int
	IsTemplate          bool
	FlowDirection       string
	FlowMapping         json.RawMessage
	TagName             string
	CategoryName        string
	Schedule            *string
	SigningSecret       *string
	PredefinedVariables []PredefinedVariable
	Variables           []Variable
	Steps               []Step
}

func DecodeFlow(body []byte) (*FlowInput, error) { return nil, nil }

type Definition struct {
	FlowID              uuid.UUID            `json:"flow_id"`
	Version             int                  `json:"version"`
	Name                string               `json:"name"`
	RetryDelay          int                  `json:"retry_delay"`
	RetryDelayUnit      string               `json:"retry_delay_unit"`
	MaxRetries          int                  `json:"max_retries"`
	FlowDirection       string               `json:"flow_direction"`
	FlowMapping         json.RawMessage      `json:"flow_mapping"`
	PredefinedVariables []PredefinedVariable `json:"predefinedVariables"`
	Variables           []Variable           `json:"variables"`
	Steps               []Step               `json:"steps"`
	SigningSecret       string               `json:"signing_secret,omitempty"`
}

func (in *FlowInput) Definition(flowID uuid.UUID, version int) *Definition { return nil }
func (d *Definition) RetryDelayDuration() time.Duration                    { return 0 }

type Plan struct {
	Def   *Definition
	Steps map[int]*PlannedStep
	Order []int
}
type PlannedStep struct {
	Step       Step
	Deps       []int
	Dependents []int
	Condition  *Condition
	Extract    []Variable
}

func Compile(def *Definition) (*Plan, error) { return nil, nil }
func (p *Plan) Roots() []int                 { return nil }

type Response struct {
	Status     int
	Headers    map[string]string
	Body       []byte
	DurationMS int64
}
type Condition struct{}

func (c *Condition) Evaluate(r *Response, vars map[string]any) (bool, string, error) {
	return false, "", nil
}
func Extract(vars []Variable, r *Response) (map[string]any, error) { return nil, nil }

type UnknownVariableError struct{ Name string }

func (e *UnknownVariableError) Error() string                                   { return "" }
func RenderURL(raw string, vars map[string]any) (string, error)                 { return "", nil }
func RenderParams(raw json.RawMessage, vars map[string]any) (url.Values, error) { return nil, nil }
func RenderHeaders(raw json.RawMessage, vars map[string]any) (map[string]string, error) {
	return nil, nil
}
func RenderJSON(raw json.RawMessage, vars map[string]any) (json.RawMessage, error) { return nil, nil }

var ErrMalformedJSON = errors.New("malformed JSON")
