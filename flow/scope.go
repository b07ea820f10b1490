package flow

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/tidwall/gjson"
)

// Scope holds the variables of one run of an execution, in the SPEC's
// precedence: trigger variables > extracted > flow_mapping > predefined,
// plus the built-ins. A runner keeps one per run and adds each successful
// attempt's extracted variables to it.
type Scope struct {
	execID, flowID uuid.UUID
	base           map[string]any // predefined < flow_mapping (trigger variables are applied last)
	trigger        map[string]any
	extracted      map[string]any
}

// NewScope returns the scope of a run of e on plan p in state s: the
// flow's predefined variables, the flow_mapping paths read from the
// payload, the trigger variables, and the variables already extracted by
// the steps that succeeded (in plan order: a later step's value wins on
// equal names).
func NewScope(p *Plan, e *Execution, s State) *Scope {
	sc := &Scope{execID: e.ID, flowID: e.FlowID, base: map[string]any{}, trigger: map[string]any{}, extracted: map[string]any{}}
	for _, pv := range p.Def.PredefinedVariables {
		sc.base[pv.Name] = decodeValue(pv.Value)
	}
	for name, path := range mappingPaths(p.Def.FlowMapping) {
		if res := gjson.GetBytes(e.Payload, path); res.Exists() {
			sc.base[name] = normalize(res.Value())
		}
	}
	if m, ok := decodeValue(e.Variables).(map[string]any); ok {
		sc.trigger = m
	}
	for _, n := range p.Order {
		if st := s.Steps[n]; st != nil && st.Status == StepSuccess && len(st.Vars) > 0 {
			if m, ok := decodeValue(st.Vars).(map[string]any); ok {
				for k, v := range m {
					sc.extracted[k] = v
				}
			}
		}
	}
	return sc
}

// Add adds variables a step extracted.
func (sc *Scope) Add(extracted map[string]any) {
	for k, v := range extracted {
		sc.extracted[k] = normalize(v)
	}
}

// Vars returns the variables an attempt sees: the scope and the built-ins,
// {{$attempt}} being attempt and {{$now}} now.
func (sc *Scope) Vars(attempt int, now time.Time) map[string]any {
	v := make(map[string]any, len(sc.base)+len(sc.extracted)+len(sc.trigger)+4)
	for k, x := range sc.base {
		v[k] = x
	}
	for k, x := range sc.extracted {
		v[k] = x
	}
	for k, x := range sc.trigger {
		v[k] = x
	}
	v[BuiltinExecutionID] = sc.execID.String()
	v[BuiltinFlowID] = sc.flowID.String()
	v[BuiltinAttempt] = int64(attempt)
	v[BuiltinNow] = now.UTC().Format(time.RFC3339)
	return v
}

// mappingPaths returns flow_mapping's variable → gjson path entries (the
// reserved "records" key excluded).
func mappingPaths(raw json.RawMessage) map[string]string {
	out := map[string]string{}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return out
	}
	for k, v := range m {
		var path string
		if k == "records" || json.Unmarshal(v, &path) != nil {
			continue
		}
		out[k] = path
	}
	return out
}

func decodeValue(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	return normalize(v)
}

// normalize turns json.Number into int64 when integral, else float64, all
// the way down, so templates and expressions see plain Go numbers.
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case float64:
		if x == float64(int64(x)) && x < 1<<53 && x > -(1<<53) {
			return int64(x)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	}
	return v
}
