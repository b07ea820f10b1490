package flow

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Definition is the immutable runnable snapshot of one flow version, stored
// as JSON (flow_versions.definition). An execution runs the definition of
// the version it started with, whatever happens to the flow afterwards.
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
	// The signing secrets are not part of a version: they belong to the
	// flow (SigningSecrets), so that a rotation applies to every execution.
	// PropagateTrace sends traceparent and tracestate on outbound requests.
	PropagateTrace bool `json:"propagate_trace"`
}

// Definition returns the runnable snapshot of the flow as version version
// of flow flowID.
func (in *FlowInput) Definition(flowID uuid.UUID, version int) *Definition {
	return &Definition{
		FlowID:              flowID,
		Version:             version,
		Name:                in.Name,
		RetryDelay:          in.RetryDelay,
		RetryDelayUnit:      in.RetryDelayUnit,
		MaxRetries:          in.MaxRetries,
		FlowDirection:       in.FlowDirection,
		FlowMapping:         slices.Clone(in.FlowMapping),
		PredefinedVariables: slices.Clone(in.PredefinedVariables),
		Variables:           slices.Clone(in.Variables),
		Steps:               slices.Clone(in.Steps),
		PropagateTrace:      in.PropagateTrace,
	}
}

// RetryDelayDuration is the delay before an execution retry and between the
// attempts of a step: retry_delay x retry_delay_unit (seconds when the unit
// is unknown).
func (d *Definition) RetryDelayDuration() time.Duration {
	unit, ok := unitDurations[strings.ToLower(d.RetryDelayUnit)]
	if !ok {
		unit = time.Second
	}
	return time.Duration(d.RetryDelay) * unit
}

// Plan is a compiled definition: each step with what it waits for, what
// waits for it, its compiled success condition and the variables it
// extracts.
type Plan struct {
	// Def is the definition the plan was compiled from.
	Def *Definition
	// Steps are the planned steps by step_number.
	Steps map[int]*PlannedStep
	// Order lists the step numbers in a topological order (every step after
	// the steps it waits for), ties broken by step_number.
	Order []int
}

// PlannedStep is one step of a Plan.
type PlannedStep struct {
	// Step is the step's definition.
	Step Step
	// Deps are the step numbers this step waits for (its depends_on_step
	// and the steps whose variables it uses), sorted, without duplicates.
	Deps []int
	// Dependents are the step numbers that wait for this step, sorted.
	Dependents []int
	// Condition is the compiled success_condition.
	Condition *Condition
	// Extract are the variables read from this step's response
	// (variables whose stepId is this step), in definition order.
	Extract []Variable
}

// Compile plans a definition: it compiles every success condition once,
// works out the dependencies between steps and orders them. It fails on a
// definition DecodeFlow would have refused (duplicate or missing steps,
// dependency cycles, conditions that do not compile).
func Compile(def *Definition) (*Plan, error) {
	if def == nil {
		return nil, errors.New("compile flow: no definition")
	}
	fail := func(format string, args ...any) (*Plan, error) {
		return nil, fmt.Errorf("compile flow %s version %d: %s", def.FlowID, def.Version, fmt.Sprintf(format, args...))
	}
	if len(def.Steps) == 0 {
		return fail("no steps")
	}
	plan := &Plan{Def: def, Steps: make(map[int]*PlannedStep, len(def.Steps))}
	nodes := map[int]bool{}
	for _, st := range def.Steps {
		if st.StepNumber < 1 {
			return fail("step_number %d is not positive", st.StepNumber)
		}
		if nodes[st.StepNumber] {
			return fail("duplicate step_number %d", st.StepNumber)
		}
		nodes[st.StepNumber] = true
		cond, errs := CompileCondition(st.SuccessCondition)
		if errs != nil {
			return fail("step %d: success_condition: %s", st.StepNumber, (&ValidationError{Errors: errs}).Error())
		}
		plan.Steps[st.StepNumber] = &PlannedStep{Step: st, Condition: cond}
	}
	for _, st := range def.Steps {
		if dep := st.DependsOnStep; dep != nil && (!nodes[*dep] || *dep == st.StepNumber) {
			return fail("step %d: depends_on_step %d is not another step", st.StepNumber, *dep)
		}
	}
	for _, v := range def.Variables {
		ps, ok := plan.Steps[v.StepID]
		if !ok {
			return fail("variable %q: step %d does not exist", v.Name, v.StepID)
		}
		ps.Extract = append(ps.Extract, v)
	}
	deps := stepDependencies(def.Steps, def.Variables)
	if cycles := dependencyCycles(deps, nodes); len(cycles) > 0 {
		return fail("dependency cycle between steps %s", joinInts(cycles[0]))
	}
	for n, ps := range plan.Steps {
		ps.Deps = deps[n]
		for _, dep := range ps.Deps {
			plan.Steps[dep].Dependents = append(plan.Steps[dep].Dependents, n)
		}
	}
	for _, ps := range plan.Steps {
		slices.Sort(ps.Dependents)
	}
	plan.Order = topologicalOrder(plan.Steps)
	return plan, nil
}

// Roots returns the step numbers of the steps that wait for nothing, which
// start together when an execution starts, sorted.
func (p *Plan) Roots() []int {
	var roots []int
	for _, n := range p.Order {
		if len(p.Steps[n].Deps) == 0 {
			roots = append(roots, n)
		}
	}
	slices.Sort(roots)
	return roots
}

// topologicalOrder orders the steps (Kahn's algorithm, smallest ready step
// first). The steps must not form a cycle.
func topologicalOrder(steps map[int]*PlannedStep) []int {
	waiting := make(map[int]int, len(steps))
	var ready []int
	for n, ps := range steps {
		waiting[n] = len(ps.Deps)
		if len(ps.Deps) == 0 {
			ready = append(ready, n)
		}
	}
	order := make([]int, 0, len(steps))
	for len(ready) > 0 {
		slices.Sort(ready)
		n := ready[0]
		ready = ready[1:]
		order = append(order, n)
		for _, dep := range steps[n].Dependents {
			waiting[dep]--
			if waiting[dep] == 0 {
				ready = append(ready, dep)
			}
		}
	}
	return order
}

// stepDependencies returns, for each step number, the step numbers it
// waits for: its depends_on_step and the steps that extract the variables
// its templates use (including itself, which makes a cycle). The lists are
// sorted without duplicates; references to missing steps are kept.
func stepDependencies(steps []Step, vars []Variable) map[int][]int {
	extractedBy := make(map[string]int, len(vars))
	for _, v := range vars {
		if v.Name != "" && v.StepID != 0 {
			extractedBy[v.Name] = v.StepID
		}
	}
	deps := make(map[int][]int, len(steps))
	for _, st := range steps {
		if st.StepNumber == 0 {
			continue
		}
		var ds []int
		if st.DependsOnStep != nil && *st.DependsOnStep != st.StepNumber {
			ds = append(ds, *st.DependsOnStep)
		}
		for _, name := range stepTemplateNames(st) {
			if src, ok := extractedBy[name]; ok {
				ds = append(ds, src)
			}
		}
		slices.Sort(ds)
		deps[st.StepNumber] = slices.Compact(ds)
	}
	return deps
}

// stepTemplateNames returns the placeholder names a step's request uses.
func stepTemplateNames(st Step) []string {
	names := TemplateNames(st.WebhookURL)
	names = append(names, TemplateNamesJSON(st.WebhookURLParams)...)
	names = append(names, TemplateNamesJSON(st.WebhookHeaders)...)
	names = append(names, TemplateNamesJSON(st.WebhookBody)...)
	return names
}

// dependencyCycles returns the cycles of the dependency graph restricted to
// nodes: each strongly connected component with more than one step, or a
// step that waits for itself. Each cycle is sorted; cycles are ordered by
// their smallest step.
func dependencyCycles(deps map[int][]int, nodes map[int]bool) [][]int {
	// Tarjan's algorithm; flows have at most MaxSteps steps, so recursion is
	// shallow.
	index := map[int]int{}
	low := map[int]int{}
	onStack := map[int]bool{}
	var stack []int
	var cycles [][]int
	next := 0
	var visit func(n int)
	visit = func(n int) {
		index[n], low[n] = next, next
		next++
		stack = append(stack, n)
		onStack[n] = true
		for _, m := range deps[n] {
			if !nodes[m] {
				continue
			}
			if _, seen := index[m]; !seen {
				visit(m)
				low[n] = min(low[n], low[m])
			} else if onStack[m] {
				low[n] = min(low[n], index[m])
			}
		}
		if low[n] != index[n] {
			return
		}
		var comp []int
		for {
			m := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[m] = false
			comp = append(comp, m)
			if m == n {
				break
			}
		}
		if len(comp) > 1 || slices.Contains(deps[n], n) {
			slices.Sort(comp)
			cycles = append(cycles, comp)
		}
	}
	sorted := make([]int, 0, len(nodes))
	for n := range nodes {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	for _, n := range sorted {
		if _, seen := index[n]; !seen {
			visit(n)
		}
	}
	slices.SortFunc(cycles, func(a, b []int) int { return a[0] - b[0] })
	return cycles
}
