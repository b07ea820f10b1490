package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
)

// The JSON documents stored inside columns: executions.steps,
// flow_versions.definition, flows.predefined_variables and flows.variables.
// Their tags are the storage format of rows already written, pinned by
// documents_test.go; they are not the API's, so renaming a field of the
// public JSON never changes what is stored or breaks reading old rows.
// Where a document has exactly the fields of its domain type it converts
// with a plain type conversion, so adding a field to the domain type does
// not compile until the document has it too.

// stepStateDoc is one step's state in executions.steps (flow.StepState).
type stepStateDoc struct {
	Status         string          `json:"status"`
	Attempts       int             `json:"attempts"`
	FirstStartedAt *time.Time      `json:"first_started_at,omitempty"`
	NextAttemptAt  *time.Time      `json:"next_attempt_at,omitempty"`
	FinishedAt     *time.Time      `json:"finished_at,omitempty"`
	Error          string          `json:"error,omitempty"`
	Vars           json.RawMessage `json:"vars,omitempty"`
	Permanent      bool            `json:"permanent,omitempty"`
}

// encodeSteps returns the executions.steps document of steps
// (appendSteps).
func encodeSteps(steps map[int]*flow.StepState) json.RawMessage {
	b, err := appendSteps(nil, steps)
	if err != nil {
		panic(fmt.Sprintf("encode json document: %v", err))
	}
	return storableJSON(b)
}

// decodeSteps reads an executions.steps document; an empty one is an
// empty map.
func decodeSteps(raw []byte) (map[int]*flow.StepState, error) {
	var doc map[int]*stepStateDoc
	if err := unmarshalDoc(raw, &doc); err != nil {
		return nil, fmt.Errorf("decode execution steps: %w", err)
	}
	steps := make(map[int]*flow.StepState, len(doc))
	for n, d := range doc {
		var st *flow.StepState
		if d != nil {
			st = new(flow.StepState(*d))
		}
		steps[n] = st
	}
	return steps, nil
}

// definitionDoc is flow_versions.definition (flow.Definition).
type definitionDoc struct {
	FlowID              uuid.UUID               `json:"flow_id"`
	Version             int                     `json:"version"`
	Name                string                  `json:"name"`
	RetryDelay          int                     `json:"retry_delay"`
	RetryDelayUnit      string                  `json:"retry_delay_unit"`
	MaxRetries          int                     `json:"max_retries"`
	FlowDirection       string                  `json:"flow_direction"`
	FlowMapping         json.RawMessage         `json:"flow_mapping"`
	PredefinedVariables []predefinedVariableDoc `json:"predefinedVariables"`
	Variables           []variableDoc           `json:"variables"`
	Steps               []stepDoc               `json:"steps"`
	// PropagateTrace is written only when false: a definition stored
	// before the field existed, like one that says nothing, propagates.
	PropagateTrace *bool `json:"propagate_trace,omitempty"`
}

// stepDoc is one step of a definitionDoc (flow.Step).
type stepDoc struct {
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

// predefinedVariableDoc is one element of flows.predefined_variables and
// of a definitionDoc's (flow.PredefinedVariable).
type predefinedVariableDoc struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"` // a secret's: the sealed JSON text, as a JSON string
	// Secret marks a sealed value (secrets.go).
	Secret bool `json:"secret,omitempty"`
}

// variableDoc is one element of flows.variables and of a definitionDoc's
// (flow.Variable).
type variableDoc struct {
	Name        string `json:"name"`
	Location    string `json:"location"`
	StepID      int    `json:"stepId"`
	Type        string `json:"type"`
	DataType    string `json:"dataType"`
	CustomValue string `json:"customValue"`
}

// encodeDefinition returns the flow_versions.definition document of def.
func encodeDefinition(def *flow.Definition) json.RawMessage {
	doc := definitionDoc{
		FlowID:              def.FlowID,
		Version:             def.Version,
		Name:                def.Name,
		RetryDelay:          def.RetryDelay,
		RetryDelayUnit:      def.RetryDelayUnit,
		MaxRetries:          def.MaxRetries,
		FlowDirection:       def.FlowDirection,
		FlowMapping:         def.FlowMapping,
		PredefinedVariables: mapSlice(def.PredefinedVariables, toPredefinedDoc),
		Variables:           mapSlice(def.Variables, toVariableDoc),
		Steps:               mapSlice(def.Steps, toStepDoc),
		PropagateTrace:      falseOrNil(def.PropagateTrace),
	}
	return mustJSON(doc)
}

// decodeDefinition reads a flow_versions.definition document.
func decodeDefinition(raw []byte) (*flow.Definition, error) {
	var doc definitionDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("decode flow definition: %w", err)
	}
	return &flow.Definition{
		FlowID:              doc.FlowID,
		Version:             doc.Version,
		Name:                doc.Name,
		RetryDelay:          doc.RetryDelay,
		RetryDelayUnit:      doc.RetryDelayUnit,
		MaxRetries:          doc.MaxRetries,
		FlowDirection:       doc.FlowDirection,
		FlowMapping:         doc.FlowMapping,
		PredefinedVariables: mapSlice(doc.PredefinedVariables, fromPredefinedDoc),
		Variables:           mapSlice(doc.Variables, fromVariableDoc),
		Steps:               mapSlice(doc.Steps, fromStepDoc),
		PropagateTrace:      doc.PropagateTrace == nil || *doc.PropagateTrace,
	}, nil
}

// falseOrNil is &false for false and nil for true (the default).
func falseOrNil(b bool) *bool {
	if b {
		return nil
	}
	return &b
}

// mapSlice returns f of each element of in, keeping nil as nil.
func mapSlice[From, To any](in []From, f func(From) To) []To {
	if in == nil {
		return nil
	}
	out := make([]To, len(in))
	for i := range in {
		out[i] = f(in[i])
	}
	return out
}

// The conversions between domain types and their documents: plain type
// conversions, so a field added to one side only does not compile.
func toStepDoc(s flow.Step) stepDoc   { return stepDoc(s) }
func fromStepDoc(d stepDoc) flow.Step { return flow.Step(d) }
func toPredefinedDoc(v flow.PredefinedVariable) predefinedVariableDoc {
	return predefinedVariableDoc(v)
}
func fromPredefinedDoc(d predefinedVariableDoc) flow.PredefinedVariable {
	return flow.PredefinedVariable(d)
}
func toVariableDoc(v flow.Variable) variableDoc   { return variableDoc(v) }
func fromVariableDoc(d variableDoc) flow.Variable { return flow.Variable(d) }

// mustJSON encodes v, one of this package's documents, which always
// encode, in a form PostgreSQL stores (storableJSON).
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode json document: %v", err))
	}
	return storableJSON(b)
}

// storableJSON returns doc in a form jsonb accepts. jsonb refuses the
// escape \u0000 (its text cannot hold NUL), escaped lone surrogates and
// invalid UTF-8, which a response body, a header or a value extracted from
// a response may bring; without this one such response failed the whole
// group commit, for every execution in it, on every retry. The rare
// document that holds one is decoded and encoded again, NUL and what is
// not Unicode becoming U+FFFD.
func storableJSON(doc []byte) []byte {
	if utf8.Valid(doc) && !bytes.Contains(doc, []byte(`\u0000`)) &&
		!bytes.Contains(doc, []byte(`\ud`)) && !bytes.Contains(doc, []byte(`\uD`)) {
		return doc
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return doc // not JSON: the database names the problem
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(withoutNUL(v)); err != nil {
		return doc
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// withoutNUL replaces NUL in every string and key of a decoded JSON value.
func withoutNUL(v any) any {
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(v, "\x00", "\uFFFD")
	case []any:
		for i := range v {
			v[i] = withoutNUL(v[i])
		}
		return v
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[strings.ReplaceAll(k, "\x00", "\uFFFD")] = withoutNUL(x)
		}
		return out
	}
	return v
}

// jsonOrEmptyObject stores an absent JSON object as {}.
func jsonOrEmptyObject(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}")
	}
	return raw
}

// jsonOrNull stores an absent JSON value as null.
func jsonOrNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

// emptyToNil stores an empty optional string as NULL.
func emptyToNil(s *string) *string {
	if s == nil || *s == "" {
		return nil
	}
	return s
}

// encodePredefinedVariables returns the flows.predefined_variables
// document of vs ([] for none).
func encodePredefinedVariables(vs []flow.PredefinedVariable) json.RawMessage {
	return mustJSON(mapSlice(nonNil(vs), toPredefinedDoc))
}

// encodeVariables returns the flows.variables document of vs ([] for
// none).
func encodeVariables(vs []flow.Variable) json.RawMessage {
	return mustJSON(mapSlice(nonNil(vs), toVariableDoc))
}

// decodePredefinedVariables reads a flows.predefined_variables document;
// none is an empty slice.
func decodePredefinedVariables(raw []byte) ([]flow.PredefinedVariable, error) {
	var doc []predefinedVariableDoc
	if err := unmarshalDoc(raw, &doc); err != nil {
		return nil, fmt.Errorf("decode predefined variables: %w", err)
	}
	return nonNil(mapSlice(doc, fromPredefinedDoc)), nil
}

// decodeVariables reads a flows.variables document; none is an empty
// slice.
func decodeVariables(raw []byte) ([]flow.Variable, error) {
	var doc []variableDoc
	if err := unmarshalDoc(raw, &doc); err != nil {
		return nil, fmt.Errorf("decode variables: %w", err)
	}
	return nonNil(mapSlice(doc, fromVariableDoc)), nil
}

// unmarshalDoc decodes a stored document; an absent one leaves v as it is.
func unmarshalDoc(raw []byte, v any) error {
	if len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, v)
}

// nonNil returns s, or an empty slice for nil.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
