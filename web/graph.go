package web

import (
	"cmp"
	"fmt"
	"html/template"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/redact"
)

// Edge kinds of the step graph.
const (
	// edgeDepends is a depends_on_step (drawn solid).
	edgeDepends = "depends_on_step"
	// edgeVariable is an implicit dependency: the step uses a variable the
	// other step extracts (drawn dashed).
	edgeVariable = "variable"
)

// Characters that fit on one line of a box (12 px monospace is about
// 7.2 px a character; the box keeps 12 px of padding on each side).
const (
	boxChars     = (boxWidth - 24) * 10 / 73
	boxTextChars = (boxWidth - 24) / 6
)

// graphOptions says what the boxes of a step graph show.
type graphOptions struct {
	// Timing shows each step's duration and attempts (an execution);
	// otherwise the box shows the path of the step's URL (a flow).
	Timing bool
	// Now is when the page is drawn (the elapsed time of running steps).
	Now time.Time
	// Href links a step's box somewhere ("" for no link).
	Href func(step int) string
	// Label names the picture for screen readers.
	Label string
}

// graphView is what the "graph" SVG template draws.
type graphView struct {
	Width, Height int
	Label         string
	Boxes         []boxView
	Edges         []edgeView
}

// boxView is one step's box.
type boxView struct {
	rect
	swatch
	Step                 int
	Status               string
	Method, Host, Detail string
	Title                string
	Href                 string
	Dashed               bool
}

// edgeView is one arrow.
type edgeView struct {
	From, To int
	Kind     string
	Path     string
	Head     string
	Title    string
	Dashed   bool
	Color    string
}

// drawStepGraph draws a definition's steps as boxes and their dependencies
// as arrows (solid for depends_on_step, dashed for a variable one step uses
// and another extracts), each box painted by the step's state in states
// (nil or missing: no state).
func drawStepGraph(def *flow.Definition, states map[int]*flow.StepState, opt graphOptions) (template.HTML, error) {
	order, deps := stepGraph(def)
	steps := make(map[int]flow.Step, len(def.Steps))
	for _, s := range def.Steps {
		steps[s.StepNumber] = s
	}
	var edges []graphEdge
	var kinds []edgeView
	for _, n := range order {
		st := steps[n]
		sources := flow.VariableSources(st, def.Variables)
		for _, d := range deps[n] {
			ev := edgeView{From: d, To: n, Kind: edgeDepends, Color: colorMuted}
			explicit := st.DependsOnStep != nil && *st.DependsOnStep == d
			uses := sources[d]
			switch {
			case explicit && len(uses) > 0:
				ev.Title = fmt.Sprintf("step %d waits for step %d (depends_on_step) and uses its %s", n, d, strings.Join(uses, ", "))
			case explicit:
				ev.Title = fmt.Sprintf("step %d waits for step %d (depends_on_step)", n, d)
			default:
				ev.Kind, ev.Dashed, ev.Color = edgeVariable, true, "#8250df"
				ev.Title = fmt.Sprintf("step %d waits for step %d: it uses %s, extracted by step %d", n, d, strings.Join(uses, ", "), d)
			}
			edges = append(edges, graphEdge{From: d, To: n})
			kinds = append(kinds, ev)
		}
	}
	l := layoutGraph(order, edges)
	v := &graphView{Width: l.Width, Height: l.Height, Label: opt.Label}
	into := map[int]int{}
	for _, e := range edges {
		into[e.To]++
	}
	for i, e := range l.Edges {
		if len(e.Points) < 2 {
			continue
		}
		ev := kinds[i]
		pts := slices.Clone(e.Points)
		tip := pts[len(pts)-1]
		pts[len(pts)-1].X -= 6 // the line stops inside the head
		ev.Path, ev.Head = pathData(pts), arrowHead(tip, portSpacing(into[e.To])/2)
		v.Edges = append(v.Edges, ev)
	}
	for _, b := range l.Boxes {
		v.Boxes = append(v.Boxes, stepBox(b, steps[b.Node], states[b.Node], opt))
	}
	return drawSVG("graph", v)
}

// stepBox is the box of step st with its state (nil: none).
func stepBox(b placedBox, st flow.Step, state *flow.StepState, opt graphOptions) boxView {
	shown := redact.URL(st.WebhookURL, nil)
	host, path := hostAndPath(shown)
	bv := boxView{
		rect:   b.rect,
		Step:   b.Node,
		Method: st.WebhookMethod,
		Host:   truncate(host, boxChars),
		Detail: truncate(path, boxChars),
	}
	title := []string{fmt.Sprintf("Step %d: %s %s", b.Node, st.WebhookMethod, shown)}
	if state != nil {
		bv.Status = state.Status
		title = append(title, state.Status)
	}
	if opt.Timing {
		bv.Detail = truncate(stepTiming(state, opt.Now), boxTextChars)
		title = append(title, bv.Detail)
		if state != nil && state.Error != "" {
			title = append(title, state.Error)
		}
	}
	bv.swatch = cmp.Or(stepSwatches[bv.Status], stepSwatches[""])
	bv.Dashed = bv.Status == flow.StepSkipped || bv.Status == flow.StepPending
	bv.Title = strings.Join(title, " · ")
	if opt.Href != nil {
		bv.Href = opt.Href(b.Node)
	}
	return bv
}

// stepTiming says how long a step took (or has been running) and how many
// attempts it made in the current execution attempt.
func stepTiming(state *flow.StepState, now time.Time) string {
	if state == nil || state.FirstStartedAt == nil {
		return "not started"
	}
	attempts := plural(state.Attempts, "attempt")
	switch {
	case state.FinishedAt != nil:
		return formatDuration(max(state.FinishedAt.Sub(*state.FirstStartedAt), time.Millisecond)) + " · " + attempts
	case state.Status == flow.StepWaiting && state.NextAttemptAt != nil:
		return attempts + " · next at " + state.NextAttemptAt.UTC().Format("15:04:05")
	default:
		return formatDuration(max(now.Sub(*state.FirstStartedAt), time.Millisecond)) + " so far · " + attempts
	}
}

// hostAndPath splits a step's (redacted) URL into the host it calls and
// its path, for a box. A URL whose host is a template ({{base_url}}/x)
// shows the template as its host.
func hostAndPath(raw string) (host, path string) {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host, u.Path
	}
	rest := raw
	if _, after, ok := strings.Cut(rest, "://"); ok {
		rest = after
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	host, path = rest, ""
	if i := strings.Index(rest, "/"); i >= 0 {
		host, path = rest[:i], rest[i:]
	}
	if _, after, ok := strings.Cut(host, "@"); ok {
		host = after
	}
	return host, path
}

// legendKey is one step state of the graph's legend.
type legendKey struct {
	Status string
	swatch
}

// stepLegend lists the step states with their colours, in the order a
// step goes through them.
func stepLegend() []legendKey {
	var keys []legendKey
	for _, s := range []string{flow.StepPending, flow.StepRunning, flow.StepWaiting, flow.StepSuccess,
		flow.StepFailed, flow.StepSkipped, flow.StepCancelled} {
		keys = append(keys, legendKey{s, stepSwatches[s]})
	}
	return keys
}
