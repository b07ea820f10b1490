package web

import (
	"cmp"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/redact"
	"github.com/flowd/flowd/store"
)

// RecentExecutionsOnIndex bounds the executions listed on the index page.
const RecentExecutionsOnIndex = 50

// executionStatuses are the values the status filter accepts.
var executionStatuses = []string{
	flow.ExecutionStatusScheduled, flow.ExecutionStatusInProgress, flow.ExecutionStatusSuccess,
	flow.ExecutionStatusFailed, flow.ExecutionStatusCancelled,
}

// executionRow is one line of an executions table.
type executionRow struct {
	*flow.ExecutionSummary
	FlowID   uuid.UUID
	FlowName string
}

// executionTable is the data of the "executions" template
// (templates/executions.html).
type executionTable struct {
	Rows []executionRow
	// ShowFlow adds the Flow column: the index lists several flows'
	// executions, a flow's page only its own.
	ShowFlow bool
}

type indexData struct {
	Workspace  string
	Flows      []flowRow
	Executions executionTable
}

// flowRow is one line of the index's flows table.
type flowRow struct {
	*flow.Flow
	// Spark is the flow's success rate over the last 24 hours.
	Spark *sparkline
}

// index lists the company's flows of a workspace, each with its success
// rate over the last 24 hours (one query for all of them), and their most
// recent executions, newest first.
func (h *Handler) index(r *http.Request, p *auth.Principal) (*view, error) {
	ws := cmp.Or(r.URL.Query().Get("workspace_id"), flow.DefaultWorkspaceID)
	flows, err := h.store.FlowList(r.Context(), p.CompanyID, ws)
	if err != nil {
		return nil, err
	}
	since := windowStart(time.Now())
	ids := make([]uuid.UUID, len(flows))
	for i, f := range flows {
		ids[i] = f.ID
	}
	hours, err := h.store.ExecutionHoursByFlow(r.Context(), p.CompanyID, ids, since)
	if err != nil {
		return nil, err
	}
	byFlow := map[uuid.UUID][]store.ExecutionHour{}
	for _, hr := range hours {
		byFlow[hr.FlowID] = append(byFlow[hr.FlowID], hr)
	}
	d := &indexData{Workspace: ws}
	var rows []executionRow
	for _, f := range flows {
		spark, err := drawSparkline(hourSlots(since, byFlow[f.ID]))
		if err != nil {
			return nil, err
		}
		d.Flows = append(d.Flows, flowRow{f, spark})
		for i := range f.Executions {
			rows = append(rows, executionRow{&f.Executions[i], f.ID, f.Name})
		}
	}
	slices.SortFunc(rows, func(a, b executionRow) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID.String(), a.ID.String()))
	})
	if len(rows) > RecentExecutionsOnIndex {
		rows = rows[:RecentExecutionsOnIndex]
	}
	d.Executions = executionTable{Rows: rows, ShowFlow: true}
	return &view{page: "index", title: "Flows", data: d}, nil
}

type flowData struct {
	Flow       *flow.Flow
	Steps      []stepSummary
	Status     string
	Statuses   []string
	Executions executionTable
	Next       string
	// Graph is the step graph, painted by the newest execution (Newest,
	// nil when the flow never ran).
	Graph  template.HTML
	Newest *flow.ExecutionSummary
	// Bars and Durations are the last 24 hours; Day sums them up.
	Bars, Durations template.HTML
	Day             store.ExecutionHour
}

// stepSummary is a step of a flow's current definition.
type stepSummary struct {
	Number int
	Method string
	URL    string
	Deps   []int
}

// flow shows one flow of the company and a page of its executions.
func (h *Handler) flow(r *http.Request, p *auth.Principal) (*view, error) {
	id, err := pathID(r, "a flow")
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && !slices.Contains(executionStatuses, status) {
		return nil, badRequest("status must be one of %v, not %q", executionStatuses, status)
	}
	var after *store.ExecutionCursor
	if c := q.Get("cursor"); c != "" {
		if after, err = store.DecodeExecutionCursor(c); err != nil {
			return nil, badRequest("cursor %q was not made by this page", c)
		}
	}
	f, err := h.store.FlowGet(r.Context(), p.CompanyID, id)
	if err != nil {
		return nil, err
	}
	list, next, err := h.store.ExecutionListByFlow(r.Context(), p.CompanyID, f.ID, status, h.cfg.PageSize, after)
	if err != nil {
		return nil, err
	}
	d := &flowData{Flow: f, Status: status, Statuses: executionStatuses}
	def := &flow.Definition{FlowID: f.ID, Version: f.Version, Name: f.Name, Steps: f.Steps, Variables: f.Variables}
	_, deps := stepGraph(def)
	for _, s := range f.Steps {
		d.Steps = append(d.Steps, stepSummary{s.StepNumber, s.WebhookMethod, redact.URL(s.WebhookURL, nil), deps[s.StepNumber]})
	}
	for _, e := range list {
		d.Executions.Rows = append(d.Executions.Rows, executionRow{&e.ExecutionSummary, f.ID, f.Name})
	}
	if next != nil {
		d.Next = next.Encode()
	}
	if err := h.flowPictures(r, p, f, def, d); err != nil {
		return nil, err
	}
	return &view{page: "flow", title: f.Name, data: d}, nil
}

// flowPictures draws a flow's step graph, each step painted by its state
// in the flow's newest execution, and its last 24 hours.
func (h *Handler) flowPictures(r *http.Request, p *auth.Principal, f *flow.Flow, def *flow.Definition, d *flowData) error {
	now := time.Now()
	var states map[int]*flow.StepState
	opt := graphOptions{Now: now, Label: "Steps of " + f.Name}
	if len(f.Executions) > 0 {
		newest, err := h.store.ExecutionGet(r.Context(), p.CompanyID, f.Executions[0].ID)
		if err != nil {
			return err
		}
		states, d.Newest = newest.Steps, &f.Executions[0]
		opt.Href = func(step int) string { return fmt.Sprintf("/ui/executions/%s#step-%d", newest.ID, step) }
	}
	var err error
	if d.Graph, err = drawStepGraph(def, states, opt); err != nil {
		return err
	}
	since := windowStart(now)
	hours, err := h.store.ExecutionHoursByFlow(r.Context(), p.CompanyID, []uuid.UUID{f.ID}, since)
	if err != nil {
		return err
	}
	slots := hourSlots(since, hours)
	for _, s := range slots {
		d.Day.Success += s.Success
		d.Day.Failed += s.Failed
		d.Day.Cancelled += s.Cancelled
		d.Day.InFlight += s.InFlight
	}
	if d.Bars, err = drawHourBars(since, slots); err != nil {
		return err
	}
	d.Durations, err = drawHourDurations(since, slots)
	return err
}

type executionData struct {
	Exec     *flow.Execution
	FlowName string
	Finished bool
	Duration time.Duration
	Steps    []stepView
	// Graph is the step graph painted by the execution's step states.
	Graph template.HTML
}

// stepView is one step of an execution with its state and attempts.
type stepView struct {
	Number   int
	Method   string
	URL      string
	Deps     []int
	State    flow.StepState
	Duration time.Duration
	Attempts []flow.StepAttempt
}

// execution shows one execution of the company: its steps in dependency
// order, each with its state and every attempt as recorded.
func (h *Handler) execution(r *http.Request, p *auth.Principal) (*view, error) {
	e, err := byPathID(r, p, "an execution", h.store.ExecutionGet)
	if err != nil {
		return nil, err
	}
	def, err := h.store.FlowDefinition(r.Context(), p.CompanyID, e.FlowID, e.FlowVersion)
	if err != nil {
		return nil, err
	}
	attempts, err := h.store.StepAttemptListByExecution(r.Context(), p.CompanyID, e.ID)
	if err != nil {
		return nil, err
	}
	d := &executionData{Exec: e, FlowName: def.Name, Finished: flow.ExecutionEnded(e.Status)}
	if e.ExecutedAt != nil && e.FinishedAt != nil {
		d.Duration = e.FinishedAt.Sub(*e.ExecutedAt)
	}
	byStep := map[int][]flow.StepAttempt{}
	for _, a := range attempts {
		byStep[a.StepNumber] = append(byStep[a.StepNumber], a)
	}
	order, deps := stepGraph(def)
	for _, n := range order {
		s := findStep(def, n)
		v := stepView{Number: n, Method: s.WebhookMethod, URL: redact.URL(s.WebhookURL, nil), Deps: deps[n], Attempts: byStep[n]}
		if st := e.Steps[n]; st != nil {
			v.State = *st
		}
		v.State.Status = cmp.Or(v.State.Status, flow.StepPending)
		if v.State.FirstStartedAt != nil && v.State.FinishedAt != nil {
			v.Duration = v.State.FinishedAt.Sub(*v.State.FirstStartedAt)
		}
		d.Steps = append(d.Steps, v)
	}
	states := make(map[int]*flow.StepState, len(d.Steps))
	for i := range d.Steps {
		states[d.Steps[i].Number] = &d.Steps[i].State
	}
	d.Graph, err = drawStepGraph(def, states, graphOptions{
		Timing: true, Now: time.Now(), Label: "Steps of execution " + e.ID.String(),
		Href: func(step int) string { return fmt.Sprintf("#step-%d", step) },
	})
	if err != nil {
		return nil, err
	}
	title := "Execution " + e.ID.String()
	return &view{page: "execution", title: title, refresh: !d.Finished, data: d}, nil
}

// stepGraph returns the definition's step numbers in dependency order (the
// compiled plan's order) and what each step waits for; when the definition
// does not compile, steps by number with their depends_on_step.
func stepGraph(def *flow.Definition) (order []int, deps map[int][]int) {
	deps = map[int][]int{}
	if plan, err := flow.Compile(def); err == nil {
		for n, ps := range plan.Steps {
			deps[n] = ps.Deps
		}
		return plan.Order, deps
	}
	for _, s := range def.Steps {
		order = append(order, s.StepNumber)
		if s.DependsOnStep != nil {
			deps[s.StepNumber] = []int{*s.DependsOnStep}
		}
	}
	slices.Sort(order)
	return order, deps
}

func findStep(def *flow.Definition, n int) flow.Step {
	for _, s := range def.Steps {
		if s.StepNumber == n {
			return s
		}
	}
	return flow.Step{StepNumber: n}
}

type eventData struct {
	Event *flow.Event
	// Finished: every execution the event started has ended.
	Finished bool
}

// event shows one event of the company: its data, the executions it
// started with their current status, and the filters that failed. It
// refreshes while an execution runs.
func (h *Handler) event(r *http.Request, p *auth.Principal) (*view, error) {
	ev, err := byPathID(r, p, "an event", h.store.EventGet)
	if err != nil {
		return nil, err
	}
	d := &eventData{Event: ev, Finished: true}
	for _, x := range ev.Executions {
		d.Finished = d.Finished && flow.ExecutionEnded(x.Status)
	}
	return &view{page: "event", title: "Event " + ev.Type, refresh: !d.Finished, data: d}, nil
}

// pathID reads the {id} of the request's path; what names the page's kind
// of id ("an event") in the 400 answer when it is not a UUID.
func pathID(r *http.Request, what string) (uuid.UUID, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return uuid.Nil, badRequest("%q is not %s id (a UUID)", r.PathValue("id"), what)
	}
	return id, nil
}

// byPathID reads the {id} of the request's path, as pathID, and gets with
// get what it names in the caller's company.
func byPathID[T any](r *http.Request, p *auth.Principal, what string,
	get func(ctx context.Context, companyID, id uuid.UUID) (T, error)) (T, error) {
	id, err := pathID(r, what)
	if err != nil {
		var zero T
		return zero, err
	}
	return get(r.Context(), p.CompanyID, id)
}
