package web

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fiftySteps is a 50-step graph with chains, fan-out, fan-in, diamonds,
// edges that span many columns and several roots.
func fiftySteps() (nodes []int, edges []graphEdge) {
	for n := 1; n <= 50; n++ {
		nodes = append(nodes, n)
	}
	add := func(from, to int) { edges = append(edges, graphEdge{from, to}) }
	for n := 2; n <= 10; n++ { // a chain 1 -> ... -> 10
		add(n-1, n)
	}
	for n := 11; n <= 20; n++ { // fan-out from 3
		add(3, n)
	}
	for n := 21; n <= 25; n++ {
		add(n-10, n)
		add(n, 26) // fan-in into 26
	}
	add(10, 26)
	for n := 27; n <= 40; n++ { // a chain after 26
		add(n-1, n)
	}
	add(1, 40)  // across the whole picture
	add(12, 35) // across many columns
	add(16, 30)
	add(41, 42) // a diamond on a root of its own
	add(41, 43)
	add(42, 44)
	add(43, 44)
	for n := 45; n <= 49; n++ { // roots fanning into 50
		add(n, 50)
	}
	add(44, 50)
	return nodes, edges
}

func TestLayoutFiftySteps(t *testing.T) {
	t.Parallel()
	nodes, edges := fiftySteps()
	l := layoutGraph(nodes, edges)
	checkLayout(t, l, nodes, edges)
	// The longest path: 1..10, 26, 27..40.
	if l.Columns != 25 {
		t.Errorf("%d columns, want 25", l.Columns)
	}
}

// checkLayout checks what every layout must hold: each box in its longest
// path column, inside the picture, no two boxes overlapping, and every
// arrow going from its source box's right side to its target box's left
// side, left to right, without crossing any box.
func checkLayout(t *testing.T, l *graphLayout, nodes []int, edges []graphEdge) {
	t.Helper()
	if len(l.Boxes) != len(nodes) || len(l.Edges) != len(edges) {
		t.Fatalf("%d boxes and %d edges for %d nodes and %d edges", len(l.Boxes), len(l.Edges), len(nodes), len(edges))
	}
	// Columns: the longest path from a root, by relaxation.
	want := map[int]int{}
	for range nodes {
		for _, e := range edges {
			want[e.To] = max(want[e.To], want[e.From]+1)
		}
	}
	box := map[int]placedBox{}
	for i, b := range l.Boxes {
		if b.Node != nodes[i] {
			t.Fatalf("box %d is node %d, want %d", i, b.Node, nodes[i])
		}
		box[b.Node] = b
		if b.Column != want[b.Node] {
			t.Errorf("step %d in column %d, want %d", b.Node, b.Column, want[b.Node])
		}
		if b.W != boxWidth || b.H != boxHeight {
			t.Errorf("step %d: box %dx%d", b.Node, b.W, b.H)
		}
		if b.X < 0 || b.Y < 0 || b.X+b.W > l.Width || b.Y+b.H > l.Height {
			t.Errorf("step %d: box %+v outside the picture %dx%d", b.Node, b.rect, l.Width, l.Height)
		}
	}
	for i, a := range l.Boxes {
		for _, b := range l.Boxes[i+1:] {
			if overlap(a.rect, b.rect) {
				t.Errorf("boxes of steps %d %+v and %d %+v overlap", a.Node, a.rect, b.Node, b.rect)
			}
		}
	}
	for i, e := range l.Edges {
		if e.From != edges[i].From || e.To != edges[i].To {
			t.Fatalf("edge %d is %d->%d, want %d->%d", i, e.From, e.To, edges[i].From, edges[i].To)
		}
		name := fmt.Sprintf("arrow %d->%d", e.From, e.To)
		if len(e.Points) < 2 {
			t.Errorf("%s has %d points", name, len(e.Points))
			continue
		}
		src, dst := box[e.From], box[e.To]
		first, last := e.Points[0], e.Points[len(e.Points)-1]
		if first.X != src.X+src.W || first.Y <= src.Y || first.Y >= src.Y+src.H {
			t.Errorf("%s starts at %+v, not on the right side of %+v", name, first, src.rect)
		}
		if last.X != dst.X || last.Y <= dst.Y || last.Y >= dst.Y+dst.H {
			t.Errorf("%s ends at %+v, not on the left side of %+v", name, last, dst.rect)
		}
		for k := 1; k < len(e.Points); k++ {
			a, b := e.Points[k-1], e.Points[k]
			if b.X <= a.X {
				t.Errorf("%s goes back from %+v to %+v", name, a, b)
			}
			if a.X < 0 || a.Y < 0 || b.X > l.Width || b.Y > l.Height {
				t.Errorf("%s leaves the picture at %+v-%+v", name, a, b)
			}
			// The curve between two points stays within their rectangle.
			hull := rect{a.X, min(a.Y, b.Y), b.X - a.X, max(a.Y-b.Y, b.Y-a.Y)}
			for _, bx := range l.Boxes {
				if overlap(hull, bx.rect) {
					t.Errorf("%s crosses the box of step %d between %+v and %+v", name, bx.Node, a, b)
				}
			}
		}
	}
}

// overlap tells whether two rectangles share interior points (touching
// sides do not count).
func overlap(a, b rect) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

func TestLayoutSmallGraphs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		nodes []int
		edges []graphEdge
		// rows by column, top down
		want [][]int
	}{
		{"one step", []int{1}, nil, [][]int{{1}}},
		{"chain", []int{1, 2, 3}, []graphEdge{{1, 2}, {2, 3}}, [][]int{{1}, {2}, {3}}},
		{"crossing undone", []int{1, 2, 3, 4}, []graphEdge{{1, 4}, {2, 3}}, [][]int{{1, 2}, {4, 3}}},
		{"diamond", []int{1, 2, 3, 4}, []graphEdge{{1, 2}, {1, 3}, {2, 4}, {3, 4}}, [][]int{{1}, {2, 3}, {4}}},
		{"long edge", []int{1, 2, 3}, []graphEdge{{1, 2}, {2, 3}, {1, 3}}, [][]int{{1}, {2}, {3}}},
		{"independent roots", []int{3, 1, 2}, nil, [][]int{{3, 1, 2}}},
		{"cycle broken", []int{1, 2, 3}, []graphEdge{{1, 2}, {2, 3}, {3, 2}}, [][]int{{1}, {2}, {3}}},
		{"unknown step ignored", []int{1, 2}, []graphEdge{{1, 2}, {7, 2}}, [][]int{{1}, {2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := layoutGraph(tc.nodes, tc.edges)
			got := make([][]int, l.Columns)
			rows := make([][]int, l.Columns)
			for _, b := range l.Boxes {
				got[b.Column] = append(got[b.Column], b.Node)
				rows[b.Column] = append(rows[b.Column], b.Y)
			}
			for c := range got {
				sortBy(got[c], rows[c])
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("columns (-want +got):\n%s", diff)
			}
			var kept []graphEdge
			for i, e := range l.Edges {
				if e.Points != nil {
					kept = append(kept, tc.edges[i])
				}
			}
			// A dropped edge (cycle, unknown step) has no points; check the rest.
			sub := &graphLayout{Width: l.Width, Height: l.Height, Boxes: l.Boxes, Columns: l.Columns}
			for _, e := range l.Edges {
				if e.Points != nil {
					sub.Edges = append(sub.Edges, e)
				}
			}
			checkLayout(t, sub, tc.nodes, kept)
		})
	}
}

// sortBy sorts nodes by key (insertion sort: the lists are tiny).
func sortBy(nodes, key []int) {
	for i := 1; i < len(nodes); i++ {
		for j := i; j > 0 && key[j] < key[j-1]; j-- {
			nodes[j], nodes[j-1] = nodes[j-1], nodes[j]
			key[j], key[j-1] = key[j-1], key[j]
		}
	}
}

func TestLayoutEmpty(t *testing.T) {
	t.Parallel()
	l := layoutGraph(nil, nil)
	if l.Width != 2*margin || l.Height != 2*margin || l.Columns != 0 || len(l.Boxes) != 0 {
		t.Errorf("empty graph: %+v", l)
	}
}

func TestLayoutIsStable(t *testing.T) {
	t.Parallel()
	nodes, edges := fiftySteps()
	a, b := layoutGraph(nodes, edges), layoutGraph(nodes, edges)
	if diff := cmp.Diff(a, b, cmp.AllowUnexported(placedBox{})); diff != "" {
		t.Errorf("two layouts of one graph differ (-first +second):\n%s", diff)
	}
}

func TestClosestWithGaps(t *testing.T) {
	t.Parallel()
	got := closestWithGaps([]float64{0, 0, 100, 90}, func(int) float64 { return 10 })
	want := []float64{-5, 5, 90, 100}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
