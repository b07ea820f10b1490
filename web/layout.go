package web

import (
	"cmp"
	"math"
	"slices"
)

// Box sizes and gaps of the step graph, in pixels.
const (
	boxWidth  = 196
	boxHeight = 64
	// columnGap is the least horizontal room between two columns, where
	// arrows bend from one row to another; it grows with the height the
	// arrows climb there, up to columnGap + maxExtraGap.
	columnGap   = 52
	maxExtraGap = 64
	// boxGap is the least vertical room between two boxes of a column;
	// laneGap is the least room between an arrow passing through a column
	// and a box or another arrow.
	boxGap  = 20
	laneGap = 14
	margin  = 16
)

// point is a position in the picture, y downwards.
type point struct{ X, Y int }

// rect is a box: its top-left corner and its size.
type rect struct{ X, Y, W, H int }

// graphLayout is where the boxes and arrows of a graph go.
type graphLayout struct {
	Width, Height int
	// Boxes are the nodes' boxes, in the order of the nodes given.
	Boxes []placedBox
	// Edges are the arrows, in the order of the edges given; an edge that
	// would close a cycle has no points.
	Edges []routedEdge
	// Columns is the number of columns.
	Columns int
}

// placedBox is a node's box and where it stands in the layering.
type placedBox struct {
	rect
	// Node is the node's id (the step number).
	Node int
	// Column is the longest path from a root to the node; Row is the
	// node's rank in its column, top down.
	Column, Row int
}

// routedEdge is the path of an arrow: from a point on the right side of
// its source box, through the columns in between (at a height no box of
// those columns takes), to a point on the left side of its target box.
// Consecutive points are joined by curves that stay within the rectangle
// of the two points.
type routedEdge struct {
	From, To int
	Points   []point
}

// graphEdge is an edge given to layoutGraph: From must finish before To.
type graphEdge struct{ From, To int }

// vertex is a node of the layered graph: a box, or a point an edge passes
// through in a column it crosses (a "dummy", edge >= 0).
type vertex struct {
	node   int // the node's id, for a box
	edge   int // the edge index, for a dummy; -1 for a box
	column int
	y      float64 // center
	height float64
	in     []int // vertices of the previous column linked to this one
	out    []int // vertices of the next column linked to this one
}

func (v *vertex) dummy() bool { return v.edge >= 0 }

// layoutGraph places the nodes of a directed acyclic graph left to right
// (a layered drawing, after Sugiyama): a node's column is the length of the
// longest path from a root to it; edges that span several columns pass
// through each column in between at a height of their own; the rows of
// each column are ordered to reduce crossings (barycenter sweeps, keeping
// the best order found), then placed as close as the gaps allow to the
// average height of their neighbours. Boxes are all boxWidth x boxHeight.
// It is a pure function of its input: the same graph gives the same
// picture. Edges whose ends are not nodes are ignored, and so are edges
// that close a cycle.
func layoutGraph(nodes []int, edges []graphEdge) *graphLayout {
	index := make(map[int]int, len(nodes))
	for i, n := range nodes {
		index[n] = i
	}
	column, kept := columns(nodes, edges, index)

	// The layered graph: a vertex per node, then a dummy per column an
	// edge crosses.
	vs := make([]*vertex, len(nodes))
	for i, n := range nodes {
		vs[i] = &vertex{node: n, edge: -1, column: column[i], height: boxHeight}
	}
	chains := make([][]int, len(edges)) // each kept edge's vertices, source to target
	for e, ed := range edges {
		if !kept[e] {
			continue
		}
		from, to := index[ed.From], index[ed.To]
		chain := []int{from}
		for c := column[from] + 1; c < column[to]; c++ {
			vs = append(vs, &vertex{edge: e, column: c})
			chain = append(chain, len(vs)-1)
		}
		chain = append(chain, to)
		for k := 0; k+1 < len(chain); k++ {
			vs[chain[k]].out = append(vs[chain[k]].out, chain[k+1])
			vs[chain[k+1]].in = append(vs[chain[k+1]].in, chain[k])
		}
		chains[e] = chain
	}
	ncols := 0
	for _, v := range vs {
		ncols = max(ncols, v.column+1)
	}
	layers := orderLayers(vs, ncols)
	placeRows(vs, layers)

	// Shift so that the highest box or lane is margin from the top.
	top := math.Inf(1)
	bottom := math.Inf(-1)
	for _, v := range vs {
		top = min(top, v.y-v.height/2)
		bottom = max(bottom, v.y+v.height/2)
	}
	if len(vs) == 0 {
		top, bottom = 0, 0
	}
	for _, v := range vs {
		v.y += margin - top
	}

	colX := columnsX(vs, ncols)
	columnX := func(c int) int { return colX[c] }
	l := &graphLayout{
		Width:   colX[len(colX)-1] + boxWidth + margin,
		Height:  2*margin + int(math.Ceil(bottom-top)),
		Columns: ncols,
		Boxes:   make([]placedBox, len(nodes)),
		Edges:   make([]routedEdge, len(edges)),
	}
	for c, layer := range layers {
		for r, vi := range layer {
			v := vs[vi]
			if v.dummy() {
				continue
			}
			l.Boxes[index[v.node]] = placedBox{
				rect: rect{X: columnX(c), Y: int(math.Round(v.y)) - boxHeight/2, W: boxWidth, H: boxHeight},
				Node: v.node, Column: c, Row: r,
			}
		}
	}
	ports := assignPorts(vs, chains)
	for e, ed := range edges {
		l.Edges[e] = routedEdge{From: ed.From, To: ed.To}
		if chains[e] == nil {
			continue
		}
		chain := chains[e]
		pts := []point{{columnX(vs[chain[0]].column) + boxWidth, ports[portKey{chain[0], e, true}]}}
		for _, vi := range chain[1 : len(chain)-1] {
			y := int(math.Round(vs[vi].y))
			pts = append(pts, point{columnX(vs[vi].column), y}, point{columnX(vs[vi].column) + boxWidth, y})
		}
		last := chain[len(chain)-1]
		pts = append(pts, point{columnX(vs[last].column), ports[portKey{last, e, false}]})
		l.Edges[e].Points = pts
	}
	return l
}

// columnsX returns the left side of each column: the gap after a column
// is columnGap, widened by a fifth of the most any link between the two
// columns climbs or falls beyond a box's height (up to maxExtraGap), so
// that steep arrows get room to bend.
func columnsX(vs []*vertex, ncols int) []int {
	climb := make([]float64, ncols)
	for _, v := range vs {
		for _, o := range v.out {
			climb[v.column] = max(climb[v.column], math.Abs(vs[o].y-v.y))
		}
	}
	if ncols == 0 {
		return []int{margin - boxWidth} // an empty picture, 2 x margin wide
	}
	xs := make([]int, ncols)
	xs[0] = margin
	for c := 1; c < ncols; c++ {
		extra := min(maxExtraGap, max(0, int(climb[c-1]-boxHeight)/5))
		xs[c] = xs[c-1] + boxWidth + columnGap + extra
	}
	return xs
}

// columns returns each node's column (the longest path from a root, by
// Kahn's algorithm) and which edges are kept: edges between known nodes,
// less those that close a cycle (their target is then placed as if they
// did not exist).
func columns(nodes []int, edges []graphEdge, index map[int]int) (column []int, kept []bool) {
	kept = make([]bool, len(edges))
	waiting := make([]int, len(nodes))
	out := make([][]int, len(nodes))
	for e, ed := range edges {
		from, ok1 := index[ed.From]
		to, ok2 := index[ed.To]
		if !ok1 || !ok2 || from == to {
			continue
		}
		kept[e] = true
		waiting[to]++
		out[from] = append(out[from], e)
	}
	column = make([]int, len(nodes))
	done := make([]bool, len(nodes))
	for placed := 0; placed < len(nodes); {
		// The ready node with the smallest id first; when only nodes of a
		// cycle are left, break it at its smallest id.
		next := -1
		for i := range nodes {
			if !done[i] && (next < 0 || waiting[i] < waiting[next] || waiting[i] == waiting[next] && nodes[i] < nodes[next]) {
				next = i
			}
		}
		done[next] = true
		placed++
		for _, e := range out[next] {
			to := index[edges[e].To]
			if done[to] {
				kept[e] = false // closes a cycle
				continue
			}
			waiting[to]--
			column[to] = max(column[to], column[next]+1)
		}
	}
	// Edges into a node that was placed before its source (cycle breaking)
	// were dropped above; edges from a node placed earlier always go right.
	return column, kept
}

// orderLayers returns the vertices of each column, top down, ordered to
// reduce crossings: boxes start in node order, then alternate sweeps sort
// each column by the barycenter of its neighbours in the column before
// (down) or after (up); the order with the fewest crossings wins.
func orderLayers(vs []*vertex, ncols int) [][]int {
	layers := make([][]int, ncols)
	for i, v := range vs {
		layers[v.column] = append(layers[v.column], i)
	}
	// Initial order: boxes in node order, then dummies; a first down sweep
	// brings each vertex near its predecessors.
	pos := make([]float64, len(vs))
	setPos := func() {
		for _, layer := range layers {
			for r, vi := range layer {
				pos[vi] = float64(r)
			}
		}
	}
	setPos()
	sweep := func(c int, down bool) {
		layer := layers[c]
		bary := make(map[int]float64, len(layer))
		for _, vi := range layer {
			nb := vs[vi].in
			if !down {
				nb = vs[vi].out
			}
			if len(nb) == 0 {
				bary[vi] = pos[vi]
				continue
			}
			sum := 0.0
			for _, n := range nb {
				sum += pos[n]
			}
			bary[vi] = sum / float64(len(nb))
		}
		slices.SortStableFunc(layer, func(a, b int) int { return cmp.Compare(bary[a], bary[b]) })
		for r, vi := range layer {
			pos[vi] = float64(r)
		}
	}
	for c := 1; c < ncols; c++ {
		sweep(c, true)
	}
	best := cloneLayers(layers)
	bestCrossings := crossings(vs, layers, pos)
	for iter := 0; iter < 12 && bestCrossings > 0; iter++ {
		if iter%2 == 0 {
			for c := ncols - 2; c >= 0; c-- {
				sweep(c, false)
			}
		} else {
			for c := 1; c < ncols; c++ {
				sweep(c, true)
			}
		}
		if n := crossings(vs, layers, pos); n < bestCrossings {
			best, bestCrossings = cloneLayers(layers), n
		}
	}
	return best
}

func cloneLayers(layers [][]int) [][]int {
	out := make([][]int, len(layers))
	for i, l := range layers {
		out[i] = slices.Clone(l)
	}
	return out
}

// crossings counts the pairs of links between adjacent columns that cross,
// given each vertex's rank in its column.
func crossings(vs []*vertex, layers [][]int, pos []float64) int {
	n := 0
	for _, layer := range layers {
		var links [][2]float64
		for _, vi := range layer {
			for _, o := range vs[vi].out {
				links = append(links, [2]float64{pos[vi], pos[o]})
			}
		}
		for i := range links {
			for j := i + 1; j < len(links); j++ {
				if (links[i][0]-links[j][0])*(links[i][1]-links[j][1]) < 0 {
					n++
				}
			}
		}
	}
	return n
}

// gap is the least distance between the centers of two vertices stacked
// in a column.
func gap(a, b *vertex) float64 {
	g := float64(laneGap)
	if !a.dummy() && !b.dummy() {
		g = boxGap
	}
	return (a.height+b.height)/2 + g
}

// placeRows gives every vertex its height: first stacked, then a few
// sweeps that pull each vertex towards the average height of its
// neighbours in the column before (or after), keeping the column's order
// and gaps (the closest placement in the least-squares sense).
func placeRows(vs []*vertex, layers [][]int) {
	for _, layer := range layers {
		y := 0.0
		for r, vi := range layer {
			if r > 0 {
				y += gap(vs[layer[r-1]], vs[vi])
			}
			vs[vi].y = y
		}
	}
	for iter := 0; iter < 8; iter++ {
		down := iter%2 == 0
		for k := range layers {
			c := k
			if !down {
				c = len(layers) - 1 - k
			}
			layer := layers[c]
			want := make([]float64, len(layer))
			for r, vi := range layer {
				nb := vs[vi].in
				if !down {
					nb = vs[vi].out
				}
				want[r] = vs[vi].y
				if len(nb) > 0 {
					sum := 0.0
					for _, n := range nb {
						sum += vs[n].y
					}
					want[r] = sum / float64(len(nb))
				}
			}
			ys := closestWithGaps(want, func(r int) float64 { return gap(vs[layer[r-1]], vs[layer[r]]) })
			for r, vi := range layer {
				vs[vi].y = ys[r]
			}
		}
	}
}

// closestWithGaps returns the positions y[0] < y[1] < ... closest to want
// (least squares) with y[r] - y[r-1] >= gapBefore(r): pool adjacent
// violators on want less the cumulated gaps.
func closestWithGaps(want []float64, gapBefore func(r int) float64) []float64 {
	offset := make([]float64, len(want))
	for r := 1; r < len(want); r++ {
		offset[r] = offset[r-1] + gapBefore(r)
	}
	type block struct {
		sum   float64
		count int
	}
	var blocks []block
	for r, w := range want {
		blocks = append(blocks, block{w - offset[r], 1})
		for len(blocks) > 1 {
			a, b := blocks[len(blocks)-2], blocks[len(blocks)-1]
			if a.sum/float64(a.count) <= b.sum/float64(b.count) {
				break
			}
			blocks = append(blocks[:len(blocks)-2], block{a.sum + b.sum, a.count + b.count})
		}
	}
	ys := make([]float64, 0, len(want))
	for _, b := range blocks {
		for range b.count {
			ys = append(ys, b.sum/float64(b.count)+offset[len(ys)])
		}
	}
	return ys
}

// portKey names where an edge leaves (out) or enters a box.
type portKey struct {
	vertex, edge int
	out          bool
}

// assignPorts spreads the arrows leaving a box along its right side, and
// those entering it along its left side, in the order of the heights they
// come from or go to, so that they do not cross at the box.
func assignPorts(vs []*vertex, chains [][]int) map[portKey]int {
	type end struct {
		edge  int
		other float64 // the height of the next (or previous) vertex
	}
	outs := map[int][]end{}
	ins := map[int][]end{}
	for e, chain := range chains {
		if chain == nil {
			continue
		}
		first, last := chain[0], chain[len(chain)-1]
		outs[first] = append(outs[first], end{e, vs[chain[1]].y})
		ins[last] = append(ins[last], end{e, vs[chain[len(chain)-2]].y})
	}
	ports := map[portKey]int{}
	spread := func(v int, ends []end, out bool) {
		slices.SortStableFunc(ends, func(a, b end) int { return cmp.Or(cmp.Compare(a.other, b.other), a.edge-b.edge) })
		step := portSpacing(len(ends))
		for i, en := range ends {
			y := vs[v].y + (float64(i)-float64(len(ends)-1)/2)*step
			ports[portKey{v, en.edge, out}] = int(math.Round(y))
		}
	}
	for v, ends := range outs {
		spread(v, ends, true)
	}
	for v, ends := range ins {
		spread(v, ends, false)
	}
	return ports
}

// portSpacing is the distance between the ends of n arrows on one side of
// a box: 12 px, less when that would not fit (0 for a single arrow).
func portSpacing(n int) float64 {
	if n < 2 {
		return 0
	}
	return min(12, float64(boxHeight-16)/float64(n-1))
}
