package flow

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"
)

var testFlowID = uuid.MustParse("123e4567-e89b-12d3-a456-426614174000")

// equateJSON compares JSON documents by value: json.Marshal writes "<" as
// "\u003c" inside raw messages, which means the same.
var equateJSON = cmp.Transformer("decodeJSON", func(raw json.RawMessage) any {
	v, err := decodeJSON(raw)
	if err != nil {
		return string(raw)
	}
	return v
})

// seedInput decodes testdata/seed_flow.json.
func seedInput(t *testing.T) *FlowInput {
	t.Helper()
	body, err := os.ReadFile("testdata/seed_flow.json")
	if err != nil {
		t.Fatal(err)
	}
	in, err := DecodeFlow(body)
	if err != nil {
		t.Fatalf("DecodeFlow(seed_flow.json): %v", err)
	}
	return in
}

func TestFlowInputDefinition(t *testing.T) {
	t.Parallel()

	in := seedInput(t)
	def := in.Definition(testFlowID, 3)

	want := &Definition{
		FlowID:              testFlowID,
		Version:             3,
		Name:                "VTIGER BRING CONTACTS",
		RetryDelay:          5,
		RetryDelayUnit:      "seconds",
		MaxRetries:          3,
		FlowDirection:       "inbound",
		FlowMapping:         in.FlowMapping,
		PredefinedVariables: in.PredefinedVariables,
		Variables:           in.Variables,
		Steps:               in.Steps,
		PropagateTrace:      true,
	}
	if diff := cmp.Diff(want, def); diff != "" {
		t.Errorf("Definition (-want +got):\n%s", diff)
	}

	// The definition is stored as JSON and read back.
	b, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	var back Definition
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(def, &back, cmpopts.EquateEmpty(), equateJSON); diff != "" {
		t.Errorf("Definition JSON round trip (-want +got):\n%s", diff)
	}

	// Changing the input afterwards does not change the snapshot.
	in.Steps[0].WebhookURL = "https://changed.example.com"
	in.Variables[0].Name = "changed"
	if def.Steps[0].WebhookURL == in.Steps[0].WebhookURL || def.Variables[0].Name == "changed" {
		t.Error("Definition shares its slices with the FlowInput")
	}
}

func TestRetryDelayDuration(t *testing.T) {
	t.Parallel()

	tests := []struct {
		delay int
		unit  string
		want  time.Duration
	}{
		{5, "seconds", 5 * time.Second},
		{0, "seconds", 0},
		{3, "minutes", 3 * time.Minute},
		{2, "hours", 2 * time.Hour},
		{30, "days", 30 * 24 * time.Hour},
		{4, "MINUTES", 4 * time.Minute},
		{7, "", 7 * time.Second},
		{7, "fortnights", 7 * time.Second},
	}
	for _, tt := range tests {
		def := &Definition{RetryDelay: tt.delay, RetryDelayUnit: tt.unit}
		if got := def.RetryDelayDuration(); got != tt.want {
			t.Errorf("RetryDelayDuration(%d %s) = %v, want %v", tt.delay, tt.unit, got, tt.want)
		}
	}
}

func TestCompileSeed(t *testing.T) {
	t.Parallel()

	plan, err := Compile(seedInput(t).Definition(testFlowID, 1))
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	type planned struct {
		Deps, Dependents []int
		Extract          []string
	}
	got := map[int]planned{}
	for n, ps := range plan.Steps {
		var names []string
		for _, v := range ps.Extract {
			names = append(names, v.Name)
		}
		got[n] = planned{Deps: ps.Deps, Dependents: ps.Dependents, Extract: names}
		if ps.Condition == nil {
			t.Errorf("step %d has no compiled condition", n)
		}
	}
	want := map[int]planned{
		1: {Dependents: []int{2}, Extract: []string{"user_id"}},
		2: {Deps: []int{1}, Extract: []string{"contact_count"}},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("planned steps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1, 2}, plan.Order); diff != "" {
		t.Errorf("Order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1}, plan.Roots()); diff != "" {
		t.Errorf("Roots (-want +got):\n%s", diff)
	}

	ok, reason, err := plan.Steps[1].Condition.Evaluate(&Response{Status: 200, Body: []byte(`{"success": true}`)}, nil)
	if !ok || err != nil {
		t.Errorf("step 1 condition = %v, %q, %v; want true", ok, reason, err)
	}
}

// planStep is a step for the Compile tests.
func planStep(n int, url string, dependsOn *int) Step {
	return Step{StepNumber: n, WebhookMethod: "GET", WebhookURL: url, DependsOnStep: dependsOn, WebhookTimeout: 30, Timeout: 300}
}

func TestCompileOrder(t *testing.T) {
	t.Parallel()

	// 1 -> 2, 1 -> 3 (by depends_on_step), 4 uses variables of 3 and 2,
	// 5 stands alone and 6 waits for 5 through a variable in its body.
	s6 := planStep(6, "https://example.com/six", nil)
	s6.WebhookBody = json.RawMessage(`{"x": ["{{five}}"]}`)
	def := &Definition{
		FlowID: testFlowID,
		Steps: []Step{
			planStep(4, "https://example.com/{{three}}/{{two}}/{{$attempt}}", nil),
			planStep(2, "https://example.com/two", ptr(1)),
			planStep(3, "https://example.com/three", ptr(1)),
			planStep(1, "https://example.com/one", nil),
			planStep(5, "https://example.com/five", nil),
			s6,
		},
		Variables: []Variable{
			{Name: "two", Type: "status", StepID: 2},
			{Name: "three", Type: "status", StepID: 3},
			{Name: "five", Type: "status", StepID: 5},
		},
	}
	plan, err := Compile(def)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	deps := map[int][]int{}
	dependents := map[int][]int{}
	for n, ps := range plan.Steps {
		deps[n] = ps.Deps
		dependents[n] = ps.Dependents
	}
	wantDeps := map[int][]int{1: nil, 2: {1}, 3: {1}, 4: {2, 3}, 5: nil, 6: {5}}
	wantDependents := map[int][]int{1: {2, 3}, 2: {4}, 3: {4}, 4: nil, 5: {6}, 6: nil}
	if diff := cmp.Diff(wantDeps, deps, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Deps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantDependents, dependents, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Dependents (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1, 2, 3, 4, 5, 6}, plan.Order); diff != "" {
		t.Errorf("Order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1, 5}, plan.Roots()); diff != "" {
		t.Errorf("Roots (-want +got):\n%s", diff)
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		def  *Definition
		want string
	}{
		{"nil", nil, "compile flow: no definition"},
		{"no steps", &Definition{FlowID: testFlowID, Version: 2}, "compile flow 123e4567-e89b-12d3-a456-426614174000 version 2: no steps"},
		{"step number", &Definition{FlowID: testFlowID, Steps: []Step{planStep(0, "https://e.com", nil)}},
			"compile flow 123e4567-e89b-12d3-a456-426614174000 version 0: step_number 0 is not positive"},
		{"duplicate", &Definition{FlowID: testFlowID, Steps: []Step{planStep(1, "https://e.com", nil), planStep(1, "https://e.com", nil)}},
			"compile flow 123e4567-e89b-12d3-a456-426614174000 version 0: duplicate step_number 1"},
		{"missing dependency", &Definition{FlowID: testFlowID, Steps: []Step{planStep(1, "https://e.com", ptr(9))}},
			"compile flow 123e4567-e89b-12d3-a456-426614174000 version 0: step 1: depends_on_step 9 is not another step"},
		{"self dependency", &Definition{FlowID: testFlowID, Steps: []Step{planStep(1, "https://e.com", ptr(1))}},
			"compile flow 123e4567-e89b-12d3-a456-426614174000 version 0: step 1: depends_on_step 1 is not another step"},
		{"variable of missing step", &Definition{FlowID: testFlowID, Steps: []Step{planStep(1, "https://e.com", nil)}, Variables: []Variable{{Name: "v", Type: "status", StepID: 2}}},
			`compile flow 123e4567-e89b-12d3-a456-426614174000 version 0: variable "v": step 2 does not exist`},
		{"cycle", &Definition{FlowID: testFlowID,
			Steps:     []Step{planStep(1, "https://e.com/{{b}}", nil), planStep(2, "https://e.com", ptr(1))},
			Variables: []Variable{{Name: "b", Type: "status", StepID: 2}}},
			"compile flow 123e4567-e89b-12d3-a456-426614174000 version 0: dependency cycle between steps 1 and 2"},
		{"condition", &Definition{FlowID: testFlowID, Steps: []Step{func() Step {
			s := planStep(1, "https://e.com", nil)
			s.SuccessCondition = json.RawMessage(`{"expression": "status +"}`)
			return s
		}()}}, "compile flow 123e4567-e89b-12d3-a456-426614174000 version 0: step 1: success_condition: invalid flow: expression: unexpected token EOF (1:8)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			plan, err := Compile(tt.def)
			if plan != nil {
				t.Errorf("Compile returned a plan")
			}
			checkErr(t, err, tt.want)
		})
	}
}
