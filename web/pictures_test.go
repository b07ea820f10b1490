package web_test

import (
	"context"
	"encoding/xml"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

// node is an element of a decoded SVG.
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nodes   []node     `xml:",any"`
}

func (n *node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n *node) num(t *testing.T, name string) int {
	t.Helper()
	v, err := strconv.Atoi(n.attr(name))
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", n.XMLName.Local, name, n.attr(name), err)
	}
	return v
}

// all returns the elements below n (n included) for which match is true.
func (n *node) all(match func(*node) bool) []*node {
	var out []*node
	if match(n) {
		out = append(out, n)
	}
	for i := range n.Nodes {
		out = append(out, n.Nodes[i].all(match)...)
	}
	return out
}

func (n *node) child(local string) *node {
	for i := range n.Nodes {
		if n.Nodes[i].XMLName.Local == local {
			return &n.Nodes[i]
		}
	}
	return nil
}

func withClass(class string) func(*node) bool {
	return func(n *node) bool { return n.attr("class") == class }
}

// svgs returns every SVG of a page, keyed by the class of its root
// element, each decoded by encoding/xml (which fails on anything that is
// not well-formed XML).
func svgs(t *testing.T, page string) map[string][]*node {
	t.Helper()
	out := map[string][]*node{}
	for _, raw := range regexp.MustCompile(`(?s)<svg xmlns=.*?</svg>`).FindAllString(page, -1) {
		var n node
		if err := xml.Unmarshal([]byte(raw), &n); err != nil {
			t.Fatalf("an SVG of the page is not valid XML: %v\n%s", err, raw)
		}
		out[n.attr("class")] = append(out[n.attr("class")], &n)
	}
	return out
}

// graphBox is a step's box as the SVG draws it.
type graphBox struct {
	status     string
	x, y, w, h int
	texts      []string
	title      string
}

// graphOf reads the boxes and arrows of a step graph SVG.
func graphOf(t *testing.T, g *node) (boxes map[int]graphBox, edges map[[2]int]string) {
	t.Helper()
	boxes = map[int]graphBox{}
	for _, s := range g.all(withClass("step")) {
		r := s.child("rect")
		b := graphBox{status: s.attr("data-status"), x: r.num(t, "x"), y: r.num(t, "y"), w: r.num(t, "width"), h: r.num(t, "height"), title: s.child("title").Text}
		for _, tx := range s.all(func(n *node) bool { return n.XMLName.Local == "text" }) {
			text := tx.Text
			for _, sp := range tx.Nodes {
				text += " " + sp.Text
			}
			b.texts = append(b.texts, text)
		}
		boxes[s.num(t, "data-step")] = b
	}
	edges = map[[2]int]string{}
	for _, e := range g.all(withClass("edge")) {
		kind := e.attr("data-kind")
		if e.child("path").attr("stroke-dasharray") != "" {
			kind += " dashed"
		}
		edges[[2]int{e.num(t, "data-from"), e.num(t, "data-to")}] = kind
	}
	return boxes, edges
}

// insertExecutions adds n finished executions of a flow created at the
// given time, each taking took (for a status that is not final, none).
func (b *testBundle) insertExecutions(t *testing.T, flowID string, created time.Time, status string, took time.Duration, n int) {
	t.Helper()
	for range n {
		var finished *time.Time
		if status == "success" || status == "failed" || status == "cancelled" {
			f := created.Add(took)
			finished = &f
		}
		_, err := b.env.Pool.Exec(context.Background(), `INSERT INTO executions
			(id, flow_id, company_id, flow_version, status, trigger, created_at, executed_at, finished_at)
			VALUES ($1, $2, $3, 1, $4, 'manual', $5, $5, $6)`, uuid.New(), flowID, b.tenant.CompanyID, status, created, finished)
		if err != nil {
			t.Fatalf("insert execution: %v", err)
		}
	}
}

// TestPictures reads the pictures of a real failed execution as the
// server writes them: every SVG is valid XML; the step graph has a box per
// step painted by its state, a solid arrow per depends_on_step and a
// dashed one per variable dependency, and no two boxes overlap; the flow's
// last 24 hours count what was stored; the index has a sparkline.
func TestPictures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	name := `<b>"Contacts"</b> & co`
	flowID := b.createFlow(t, b.tenant, map[string]any{
		"name": name, "retry_delay": 1, "retry_delay_unit": "seconds", "max_retries": 0,
		"variables": []any{map[string]any{"name": "tok", "type": "body", "location": "token", "stepId": 1, "dataType": "string"}},
		"steps": []any{
			map[string]any{"step_number": 1, "webhook_method": "GET", "webhook_url": b.target.URL + "/first"},
			map[string]any{"step_number": 2, "webhook_method": "POST", "webhook_url": b.target.URL + "/second", "depends_on_step": 1},
			map[string]any{"step_number": 3, "webhook_method": "PUT", "webhook_url": b.target.URL + "/third/{{tok}}"},
			map[string]any{"step_number": 4, "webhook_method": "DELETE", "webhook_url": b.target.URL + "/fail", "depends_on_step": 3, "retry_limit": 1},
			map[string]any{"step_number": 5, "webhook_method": "PATCH", "webhook_url": b.target.URL + "/fifth", "depends_on_step": 4},
		},
	})
	e := b.trigger(t, b.tenant, flowID)
	b.env.WaitExecution(t, b.tenant, e.ID, 30*time.Second, "failed")
	twoHoursAgo := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	b.insertExecutions(t, flowID, twoHoursAgo.Add(time.Minute), "success", 2*time.Second, 3)
	b.insertExecutions(t, flowID, twoHoursAgo.Add(2*time.Minute), "failed", 4*time.Second, 1)
	b.insertExecutions(t, flowID, twoHoursAgo.Add(-30*time.Hour), "failed", time.Second, 5) // before the window

	wantStatus := map[int]string{1: "success", 2: "success", 3: "success", 4: "failed", 5: "skipped"}
	wantEdges := map[[2]int]string{{1, 2}: "depends_on_step", {1, 3}: "variable dashed", {3, 4}: "depends_on_step", {4, 5}: "depends_on_step"}
	host := strings.TrimPrefix(b.target.URL, "http://")

	code, _, page := b.get(t, "/ui/flows/"+flowID, b.tenant.Token)
	if code != http.StatusOK {
		t.Fatalf("flow page: %d\n%s", code, page)
	}
	pics := svgs(t, page)
	if len(pics["graph"]) != 1 || len(pics["chart"]) != 2 {
		t.Fatalf("flow page: %d graphs and %d charts, want 1 and 2", len(pics["graph"]), len(pics["chart"]))
	}
	graph := pics["graph"][0]
	if got := graph.attr("aria-label"); got != "Steps of "+name {
		t.Errorf("graph label %q", got)
	}
	if strings.Contains(page, `<b>"Contacts"`) {
		t.Error("the flow name is not escaped")
	}
	boxes, edges := graphOf(t, graph)
	checkGraph(t, "flow page", graph, boxes, edges, wantStatus, wantEdges)
	if diff := cmp.Diff([]string{"Step 1 GET", "success", host, "/first"}, boxes[1].texts); diff != "" {
		t.Errorf("flow page: box of step 1 (-want +got):\n%s", diff)
	}
	if !strings.Contains(page, `<a href="/ui/executions/`+e.ID.String()+`#step-4">`) {
		t.Error("flow page: the boxes do not link to the newest execution's steps")
	}
	// The last 24 hours: the real execution (this hour) and the four
	// inserted two hours ago; the five older ones are out of the window.
	bars := pics["chart"][0].all(withClass("bar"))
	if len(bars) != 2 {
		t.Fatalf("%d bars, want 2", len(bars))
	}
	hour := twoHoursAgo.Format("15:04") + "–" + twoHoursAgo.Add(time.Hour).Format("15:04") + " UTC"
	if got, want := bars[0].child("title").Text, hour+": 4 executions — 3 success, 1 failed, 0 cancelled, 0 in flight"; got != want {
		t.Errorf("bar title %q, want %q", got, want)
	}
	if n := len(bars[0].all(func(n *node) bool { return n.XMLName.Local == "rect" })); n != 2 {
		t.Errorf("the bar has %d segments, want 2 (success and failed)", n)
	}
	dots := pics["chart"][1].all(func(n *node) bool { return n.XMLName.Local == "circle" })
	if len(dots) != 4 {
		t.Fatalf("%d points on the duration lines, want 4 (p50 and p95 of two hours)", len(dots))
	}
	if got, want := dots[0].child("title").Text, hour+": p50 2s of 4 finished executions"; got != want {
		t.Errorf("p50 point %q, want %q", got, want)
	}
	if got, want := dots[2].child("title").Text, hour+": p95 3.7s of 4 finished executions"; got != want {
		t.Errorf("p95 point %q, want %q", got, want)
	}
	if !strings.Contains(page, "3 success · 2 failed · 0 cancelled · 0 in flight") {
		t.Error("flow page lacks the day's totals")
	}

	code, _, page = b.get(t, "/ui/executions/"+e.ID.String(), b.tenant.Token)
	if code != http.StatusOK {
		t.Fatalf("execution page: %d\n%s", code, page)
	}
	pics = svgs(t, page)
	if len(pics["graph"]) != 1 {
		t.Fatalf("execution page: %d graphs", len(pics["graph"]))
	}
	boxes, edges = graphOf(t, pics["graph"][0])
	checkGraph(t, "execution page", pics["graph"][0], boxes, edges, wantStatus, wantEdges)
	if got := boxes[4].texts; len(got) != 4 || got[1] != "failed" || !regexp.MustCompile(`^[0-9.]+ ?m?s · 2 attempts$`).MatchString(got[3]) {
		t.Errorf("execution page: box of step 4 %q, want its status, duration and 2 attempts", got)
	}
	if got := boxes[5].texts[3]; got != "not started" {
		t.Errorf("execution page: box of step 5 says %q", got)
	}
	if !strings.Contains(boxes[4].title, "status 500 is not 2xx") {
		t.Errorf("execution page: the failed step's title lacks its error: %q", boxes[4].title)
	}

	_, _, page = b.get(t, "/ui/", b.tenant.Token)
	pics = svgs(t, page)
	if len(pics["sparkline"]) != 1 {
		t.Fatalf("index: %d sparklines", len(pics["sparkline"]))
	}
	spark := pics["sparkline"][0]
	if n := len(spark.all(func(n *node) bool { return n.XMLName.Local == "rect" })); n != 3 {
		t.Errorf("sparkline: %d rects, want the frame and two hours", n)
	}
	if !strings.Contains(page, `60.0 %</span> <span class="muted">of 5</span>`) {
		t.Errorf("index lacks the success rate, 3 of 5:\n%s", page)
	}
}

// checkGraph checks a step graph: the steps' states, the arrows and their
// kinds, and boxes that stay inside the picture without overlapping.
func checkGraph(t *testing.T, where string, g *node, boxes map[int]graphBox, edges map[[2]int]string, wantStatus map[int]string, wantEdges map[[2]int]string) {
	t.Helper()
	status := map[int]string{}
	for n, b := range boxes {
		status[n] = b.status
	}
	if diff := cmp.Diff(wantStatus, status); diff != "" {
		t.Errorf("%s: step states (-want +got):\n%s", where, diff)
	}
	if diff := cmp.Diff(wantEdges, edges); diff != "" {
		t.Errorf("%s: arrows (-want +got):\n%s", where, diff)
	}
	width, height := g.num(t, "width"), g.num(t, "height")
	for n, a := range boxes {
		if a.x < 0 || a.y < 0 || a.x+a.w > width || a.y+a.h > height {
			t.Errorf("%s: box of step %d outside the picture", where, n)
		}
		for m, b := range boxes {
			if n < m && a.x < b.x+b.w && b.x < a.x+a.w && a.y < b.y+b.h && b.y < a.y+a.h {
				t.Errorf("%s: boxes of steps %d and %d overlap", where, n, m)
			}
		}
	}
}
