package flow

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestVariableSources(t *testing.T) {
	t.Parallel()
	s4 := planStep(4, "https://example.com/{{contact}}/{{$attempt}}?n={{note}}", ptr(1))
	s4.WebhookHeaders = json.RawMessage(`{"X-Deal": "{{deal}}", "X-Plain": "{{region}}"}`)
	s4.WebhookBody = json.RawMessage(`{"ids": ["{{contact}}", "{{owner}}"]}`)
	def := &Definition{
		FlowID: testFlowID,
		Steps: []Step{
			planStep(1, "https://example.com/one", nil),
			planStep(2, "https://example.com/two", nil),
			planStep(3, "https://example.com/three", nil),
			s4,
		},
		PredefinedVariables: []PredefinedVariable{{Name: "region", Value: json.RawMessage(`"eu"`)}},
		Variables: []Variable{
			{Name: "contact", Type: "body", Location: "id", StepID: 2},
			{Name: "owner", Type: "body", Location: "owner", StepID: 2},
			{Name: "deal", Type: "status", StepID: 3},
			{Name: "note", Type: "status", StepID: 1},
			{Name: "unused", Type: "status", StepID: 3},
		},
	}
	got := VariableSources(s4, def.Variables)
	want := map[int][]string{1: {"note"}, 2: {"contact", "owner"}, 3: {"deal"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("VariableSources (-want +got):\n%s", diff)
	}
	if got := VariableSources(def.Steps[0], def.Variables); len(got) != 0 {
		t.Errorf("a step that uses no variable: %v", got)
	}

	// Every source is a dependency of the compiled plan, and the plan's
	// dependencies are exactly depends_on_step and the sources.
	plan, err := Compile(def)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	for _, st := range def.Steps {
		deps := slices.Collect(maps.Keys(VariableSources(st, def.Variables)))
		if st.DependsOnStep != nil {
			deps = append(deps, *st.DependsOnStep)
		}
		slices.Sort(deps)
		deps = slices.Compact(deps)
		if diff := cmp.Diff(plan.Steps[st.StepNumber].Deps, deps, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("step %d: plan Deps (-want +got):\n%s", st.StepNumber, diff)
		}
	}
}
