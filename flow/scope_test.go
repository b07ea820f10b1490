package flow

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

// TestScopeVars: the variables an attempt sees, in the SPEC's precedence:
// trigger variables > extracted > flow_mapping > predefined, plus the
// built-ins.
func TestScopeVars(t *testing.T) {
	t.Parallel()
	p := machinePlan(t, chain...)
	p.Def.PredefinedVariables = []PredefinedVariable{
		{Name: "a", Value: json.RawMessage(`"predefined"`)},
		{Name: "b", Value: json.RawMessage(`"predefined"`)},
		{Name: "c", Value: json.RawMessage(`"predefined"`)},
		{Name: "d", Value: json.RawMessage(`"predefined"`)},
		{Name: "n", Value: json.RawMessage(`2`)},
	}
	p.Def.FlowMapping = json.RawMessage(`{"b": "contact.name", "c": "contact.name", "d": "contact.name", "x": "missing", "records": {"step": 1, "path": "items"}}`)
	execID := uuid.MustParse("00000000-0000-0000-0000-0000000000e1")
	e := &Execution{
		ExecutionSummary: ExecutionSummary{ID: execID},
		FlowID:           testFlowID,
		Payload:          json.RawMessage(`{"contact": {"name": "mapped"}}`),
		Variables:        json.RawMessage(`{"d": "trigger"}`),
	}
	s := State{Steps: map[int]*StepState{
		1: {Status: StepSuccess, Vars: json.RawMessage(`{"c": "step 1", "f": 1.5}`)},
		2: {Status: StepSuccess, Vars: json.RawMessage(`{"c": "extracted", "g": 7}`)},
		3: {Status: StepFailed, Vars: json.RawMessage(`{"c": "failed step"}`)},
	}}
	sc := NewScope(p, e, s)
	want := map[string]any{
		"a": "predefined", "b": "mapped", "c": "extracted", "d": "trigger", "n": int64(2), "f": 1.5, "g": int64(7),
		BuiltinExecutionID: execID.String(), BuiltinFlowID: testFlowID.String(), BuiltinAttempt: int64(3),
		BuiltinNow: "2025-03-01T12:00:00Z",
	}
	if d := cmp.Diff(want, sc.Vars(3, t0)); d != "" {
		t.Errorf("Vars (-want +got):\n%s", d)
	}
	// A step that succeeds adds its variables (numbers as int64 or float64);
	// trigger variables still win.
	sc.Add(map[string]any{"g": json.Number("8"), "d": "extracted later", "h": map[string]any{"k": 1.0}})
	want["g"], want["h"], want[BuiltinAttempt] = int64(8), map[string]any{"k": int64(1)}, int64(1)
	if d := cmp.Diff(want, sc.Vars(1, t0)); d != "" {
		t.Errorf("Vars after Add (-want +got):\n%s", d)
	}
}

func TestCollectRecords(t *testing.T) {
	t.Parallel()
	items := make([]string, 0, MaxRecords+3)
	for i := range MaxRecords + 3 {
		items = append(items, fmt.Sprintf(`{"id": %d, "c": {"mail": "m%d"}}`, i, i))
	}
	body := []byte(`{"data": {"items": [` + strings.Join(items, ",") + `]}, "one": {"id": 1}}`)
	for _, tc := range []struct {
		name    string
		mapping string
		step    int
		ok      bool
		first   string // the first records, as JSON
		n       int
	}{
		{"fields", `{"records": {"step": 2, "path": "data.items", "fields": {"id": "id", "email": "c.mail", "none": "x"}}}`, 2, true,
			`[{"email":"m0","id":0,"none":null},{"email":"m1","id":1,"none":null}]`, MaxRecords},
		{"whole records", `{"records": {"step": 2, "path": "data.items"}}`, 2, true,
			`[{"c":{"mail":"m0"},"id":0},{"c":{"mail":"m1"},"id":1}]`, MaxRecords},
		{"another step", `{"records": {"step": 1, "path": "data.items"}}`, 2, false, "", 0},
		{"not an array", `{"records": {"step": 2, "path": "one"}}`, 2, false, "", 0},
		{"no records mapping", `{"email": "contact.email"}`, 2, false, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw, ok := CollectRecords(json.RawMessage(tc.mapping), tc.step, body)
			if ok != tc.ok {
				t.Fatalf("CollectRecords ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			var recs []json.RawMessage
			if err := json.Unmarshal(raw, &recs); err != nil {
				t.Fatal(err)
			}
			if len(recs) != tc.n {
				t.Errorf("%d records, want %d", len(recs), tc.n)
			}
			first, _ := json.Marshal(recs[:2])
			if d := cmp.Diff(tc.first, string(first)); d != "" {
				t.Errorf("first records (-want +got):\n%s", d)
			}
		})
	}
}
