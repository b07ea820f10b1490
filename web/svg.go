package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The pictures are SVG written by html/template (every text and attribute
// escaped), inline in the pages: no script, no external asset, nothing the
// Content-Security-Policy has to allow.

//go:embed templates/pictures.svg
var picturesFS embed.FS

var svgTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"add": func(a, b int) int { return a + b },
	"div": func(a, b int) int { return a / b },
}).ParseFS(picturesFS, "templates/pictures.svg"))

// drawSVG executes the SVG template name with data.
func drawSVG(name string, data any) (template.HTML, error) {
	var buf bytes.Buffer
	if err := svgTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("draw %s: %w", name, err)
	}
	return template.HTML(buf.String()), nil
}

// swatch is how one state is painted: the box's fill, its border and the
// colour of its status text.
type swatch struct{ Fill, Stroke, Ink string }

// stepSwatches paints the step states; the zero key is a step with no
// state (a flow that never ran).
var stepSwatches = map[string]swatch{
	"success":   {"#dafbe1", "#1a7f37", "#1a7f37"},
	"failed":    {"#ffebe9", "#cf222e", "#cf222e"},
	"running":   {"#ddf4ff", "#0969da", "#0969da"},
	"waiting":   {"#fff8c5", "#bf8700", "#9a6700"},
	"pending":   {"#ffffff", "#8c959f", "#57606a"},
	"skipped":   {"#f6f8fa", "#afb8c1", "#6e7781"},
	"cancelled": {"#eaeef2", "#6e7781", "#57606a"},
	"":          {"#ffffff", "#8c959f", "#57606a"},
}

// Colours of execution outcomes in the charts.
const (
	colorSuccess   = "#2da44e"
	colorFailed    = "#cf222e"
	colorCancelled = "#8c959f"
	colorInFlight  = "#54aeff"
	colorP50       = "#0969da"
	colorP95       = "#bc4c00"
	colorAxis      = "#d0d7de"
	colorInk       = "#1f2328"
	colorMuted     = "#57606a"
)

// truncate shortens s to at most n characters, ending in "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:max(n-1, 0)]) + "…"
}

// pathData writes the points as an SVG path: a line where two points are
// level, otherwise a curve that leaves and arrives horizontally (and stays
// within the rectangle of its two points).
func pathData(pts []point) string {
	var b strings.Builder
	for i, p := range pts {
		if i == 0 {
			fmt.Fprintf(&b, "M%d %d", p.X, p.Y)
			continue
		}
		prev := pts[i-1]
		if prev.Y == p.Y {
			fmt.Fprintf(&b, " L%d %d", p.X, p.Y)
			continue
		}
		mid := strconv.FormatFloat(float64(prev.X+p.X)/2, 'f', -1, 64)
		fmt.Fprintf(&b, " C%s %d %s %d %d %d", mid, prev.Y, mid, p.Y, p.X, p.Y)
	}
	return b.String()
}

// arrowHead is the triangle of an arrow whose tip is at p, pointing right:
// 5 px on each side of the line, less when the arrows entering the box are
// closer (room is the space to the next arrow, 0 when there is none), but
// never under 2 px.
func arrowHead(p point, room float64) string {
	half := 5.0
	if room > 0 {
		half = max(2, min(half, room))
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	return fmt.Sprintf("M%d %s L%d %d L%d %s Z", p.X-8, f(float64(p.Y)-half), p.X, p.Y, p.X-8, f(float64(p.Y)+half))
}

// plural writes n and the noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
