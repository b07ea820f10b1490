package flow

import "slices"

// VariableSources returns the variables a step's request uses (url,
// params, headers, body) that steps of the flow extract, grouped by the
// number of the step that extracts them, each list sorted. These are the
// implicit dependencies Compile adds to depends_on_step: every key of the
// answer is in the step's PlannedStep.Deps. A variable the step extracts
// itself is listed under its own number (Compile refuses that as a cycle).
func VariableSources(st Step, vars []Variable) map[int][]string {
	used := map[string]bool{}
	for _, name := range stepTemplateNames(st) {
		used[name] = true
	}
	sources := map[int][]string{}
	for _, v := range vars {
		if v.StepID == 0 || !used[v.Name] || slices.Contains(sources[v.StepID], v.Name) {
			continue
		}
		sources[v.StepID] = append(sources[v.StepID], v.Name)
	}
	for _, names := range sources {
		slices.Sort(names)
	}
	return sources
}
