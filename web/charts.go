package web

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/flowd/flowd/store"
)

// HoursShown is how many hours the charts cover: the current hour and the
// 23 before it, in UTC.
const HoursShown = 24

// windowStart is the start of the first hour the charts show at now.
func windowStart(now time.Time) time.Time {
	return now.UTC().Truncate(time.Hour).Add(-(HoursShown - 1) * time.Hour)
}

// hourSlots spreads a flow's hours over the HoursShown slots from since,
// with zeros where an hour had no execution.
func hourSlots(since time.Time, hours []store.ExecutionHour) []store.ExecutionHour {
	slots := make([]store.ExecutionHour, HoursShown)
	for i := range slots {
		slots[i].Hour = since.Add(time.Duration(i) * time.Hour)
	}
	for _, h := range hours {
		if i := int(h.Hour.Sub(since) / time.Hour); i >= 0 && i < HoursShown {
			slots[i] = h
			slots[i].Hour = since.Add(time.Duration(i) * time.Hour)
		}
	}
	return slots
}

// Sizes of the charts of a flow page, in pixels.
const (
	chartWidth     = 680
	barChartHeight = 230
	durChartHeight = 230
	plotLeft       = 60
	plotRight      = 16
	plotTop        = 40
	plotBottom     = 30
)

// chartView is what the "chart" SVG template draws: axes, stacked bars or
// lines, a legend, and a note when there is nothing to draw.
type chartView struct {
	Width, Height int
	Label         string
	Plot          rect
	YTicks        []tickView
	XTicks        []tickView
	Bars          []barView
	Lines         []lineView
	Legend        []legendView
	Note          string
}

type tickView struct {
	X, Y  int
	Label string
}

// barView is the bar of one hour: its segments bottom up.
type barView struct {
	X, W  int
	Title string
	Segs  []segView
}

type segView struct {
	Y, H  int
	Color string
}

type lineView struct {
	Path   string
	Color  string
	Dashed bool
	Dots   []dotView
}

type dotView struct {
	X, Y  int
	Title string
}

type legendView struct {
	X      int
	Label  string
	Color  string
	IsLine bool
	Dashed bool
}

// newChart lays out an empty chart with its hour axis.
func newChart(height int, label string, since time.Time) *chartView {
	c := &chartView{
		Width: chartWidth, Height: height, Label: label,
		Plot: rect{X: plotLeft, Y: plotTop, W: chartWidth - plotLeft - plotRight, H: height - plotTop - plotBottom},
	}
	for i := 0; i < HoursShown; i += 3 {
		c.XTicks = append(c.XTicks, tickView{X: c.slotX(i), Label: since.Add(time.Duration(i) * time.Hour).UTC().Format("15:04")})
	}
	return c
}

// slotX is the left side of hour i.
func (c *chartView) slotX(i int) int {
	return c.Plot.X + int(math.Round(float64(i)*float64(c.Plot.W)/HoursShown))
}

// legend adds the legend's items left to right above the plot.
func (c *chartView) legend(items ...legendView) {
	x := c.Plot.X
	for _, it := range items {
		it.X = x
		c.Legend = append(c.Legend, it)
		x += 30 + 7*len(it.Label) + 18
	}
}

// hourRange names hour slot h for a tooltip: "14:00–15:00 UTC".
func hourRange(h time.Time) string {
	return h.UTC().Format("15:04") + "–" + h.Add(time.Hour).UTC().Format("15:04") + " UTC"
}

// drawHourBars draws the executions created in each hour, stacked by
// outcome: success, failed, cancelled, still in flight.
func drawHourBars(since time.Time, slots []store.ExecutionHour) (template.HTML, error) {
	c := newChart(barChartHeight, "Executions per hour over the last 24 hours, by outcome", since)
	c.legend(
		legendView{Label: "success", Color: colorSuccess},
		legendView{Label: "failed", Color: colorFailed},
		legendView{Label: "cancelled", Color: colorCancelled},
		legendView{Label: "in flight", Color: colorInFlight},
	)
	most := 0
	for _, s := range slots {
		most = max(most, s.Success+s.Failed+s.Cancelled+s.InFlight)
	}
	top, step := niceScale(most)
	bottom := c.Plot.Y + c.Plot.H
	yOf := func(n int) float64 { return float64(bottom) - float64(n)*float64(c.Plot.H)/float64(top) }
	for n := 0; n <= top; n += step {
		c.YTicks = append(c.YTicks, tickView{Y: int(math.Round(yOf(n))), Label: formatCount(n)})
	}
	if most == 0 {
		c.Note = "No executions in the last 24 hours"
	}
	for i, s := range slots {
		total := s.Success + s.Failed + s.Cancelled + s.InFlight
		if total == 0 {
			continue
		}
		x0, x1 := c.slotX(i), c.slotX(i+1)
		gap := max((x1-x0)/6, 1)
		b := barView{X: x0 + gap, W: x1 - x0 - 2*gap, Title: fmt.Sprintf("%s: %s — %d success, %d failed, %d cancelled, %d in flight",
			hourRange(s.Hour), plural(total, "execution"), s.Success, s.Failed, s.Cancelled, s.InFlight)}
		below := 0
		for _, part := range []struct {
			n     int
			color string
		}{{s.Success, colorSuccess}, {s.Failed, colorFailed}, {s.Cancelled, colorCancelled}, {s.InFlight, colorInFlight}} {
			if part.n == 0 {
				continue
			}
			y0, y1 := int(math.Round(yOf(below))), int(math.Round(yOf(below+part.n)))
			b.Segs = append(b.Segs, segView{Y: y1, H: max(y0-y1, 1), Color: part.color})
			below += part.n
		}
		c.Bars = append(c.Bars, b)
	}
	return drawSVG("chart", c)
}

// niceScale returns the top of a count axis at or above most, and the
// step between its ticks (1, 2 or 5 times a power of ten, 3 to 5 ticks).
func niceScale(most int) (top, step int) {
	if most <= 0 {
		return 1, 1
	}
	step = 1
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if most <= 5*m*p {
				step = m * p
				return step * int(math.Ceil(float64(most)/float64(step))), step
			}
		}
	}
}

// formatCount writes n with thousands separators.
func formatCount(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// durationTicks are the labelled heights of the duration axis.
var durationTicks = []struct {
	d     time.Duration
	label string
}{
	{time.Millisecond, "1 ms"}, {10 * time.Millisecond, "10 ms"}, {100 * time.Millisecond, "100 ms"},
	{time.Second, "1 s"}, {10 * time.Second, "10 s"}, {time.Minute, "1 min"}, {10 * time.Minute, "10 min"},
	{time.Hour, "1 h"}, {10 * time.Hour, "10 h"}, {100 * time.Hour, "100 h"}, {1000 * time.Hour, "1000 h"},
}

// drawHourDurations draws the p50 and p95 of trigger to done of the
// executions of each hour that finished (success or failed), on a
// logarithmic scale so that both stay readable when they are far apart.
func drawHourDurations(since time.Time, slots []store.ExecutionHour) (template.HTML, error) {
	c := newChart(durChartHeight, "Execution duration, trigger to done, per hour over the last 24 hours: p50 and p95", since)
	c.legend(
		legendView{Label: "p50", Color: colorP50, IsLine: true},
		legendView{Label: "p95", Color: colorP95, IsLine: true, Dashed: true},
	)
	lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
	for _, s := range slots {
		if s.P95 > 0 {
			lo, hi = min(lo, max(s.P50, time.Millisecond)), max(hi, s.P95)
		}
	}
	if hi == 0 {
		c.Note = "No finished executions in the last 24 hours"
		lo, hi = 100*time.Millisecond, 10*time.Second
	}
	first, last := 0, len(durationTicks)-1
	for i, t := range durationTicks {
		if t.d <= lo {
			first = i
		}
	}
	for i := len(durationTicks) - 1; i >= 0; i-- {
		if durationTicks[i].d >= hi {
			last = i
		}
	}
	last = max(last, first+1)
	logLo, logHi := math.Log(float64(durationTicks[first].d)), math.Log(float64(durationTicks[last].d))
	bottom := float64(c.Plot.Y + c.Plot.H)
	yOf := func(d time.Duration) int {
		d = min(max(d, durationTicks[first].d), durationTicks[last].d)
		return int(math.Round(bottom - (math.Log(float64(d))-logLo)/(logHi-logLo)*float64(c.Plot.H)))
	}
	for _, t := range durationTicks[first : last+1] {
		c.YTicks = append(c.YTicks, tickView{Y: yOf(t.d), Label: t.label})
	}
	for _, q := range []struct {
		name   string
		color  string
		dashed bool
		get    func(store.ExecutionHour) time.Duration
	}{
		{"p50", colorP50, false, func(h store.ExecutionHour) time.Duration { return h.P50 }},
		{"p95", colorP95, true, func(h store.ExecutionHour) time.Duration { return h.P95 }},
	} {
		line := lineView{Color: q.color, Dashed: q.dashed}
		var path strings.Builder
		joined := false
		for i, s := range slots {
			d := q.get(s)
			if s.P95 == 0 {
				joined = false
				continue
			}
			x := (c.slotX(i) + c.slotX(i+1)) / 2
			y := yOf(d)
			cmd := "L"
			if !joined {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%d %d ", cmd, x, y)
			joined = true
			n := s.Success + s.Failed
			line.Dots = append(line.Dots, dotView{X: x, Y: y, Title: fmt.Sprintf("%s: %s %s of %s",
				hourRange(s.Hour), q.name, formatDuration(d), plural(n, "finished execution"))})
		}
		line.Path = strings.TrimSpace(path.String())
		c.Lines = append(c.Lines, line)
	}
	return drawSVG("chart", c)
}

// Size of a sparkline.
const (
	sparkSlot   = 5 // a bar and its gap
	sparkPad    = 2
	sparkWidth  = 2*sparkPad + HoursShown*sparkSlot
	sparkHeight = 26
)

// sparkView is what the "sparkline" SVG template draws: a bar an hour.
type sparkView struct {
	Width, Height int
	Title         string
	Bars          []sparkBar
}

// sparkBar is the bar of one hour: as high as its success rate, coloured
// by it.
type sparkBar struct {
	X, Y, W, H int
	Color      string
	Title      string
}

// sparkline is a flow's success rate over the last 24 hours, for the
// index: the picture, the rate over the whole window, and how many
// executions it counts.
type sparkline struct {
	SVG      template.HTML
	Rate     string
	Finished string
	Color    string
}

// rateColor colours a success rate: green from 99 %, amber from 90 %, red
// below.
func rateColor(rate float64) string {
	switch {
	case rate >= 0.99:
		return "#1a7f37"
	case rate >= 0.9:
		return "#bf8700"
	default:
		return colorFailed
	}
}

// drawSparkline draws the success rate of each hour, success / (success +
// failed), as a bar as high as the rate and coloured by it; an hour
// without a finished execution has no bar, and cancelled executions (an
// operator's decision) do not count.
func drawSparkline(slots []store.ExecutionHour) (*sparkline, error) {
	v := &sparkView{Width: sparkWidth, Height: sparkHeight}
	ok, finished := 0, 0
	for _, s := range slots {
		ok += s.Success
		finished += s.Success + s.Failed
	}
	sp := &sparkline{Finished: formatCount(finished), Rate: "—", Color: colorMuted}
	if finished > 0 {
		rate := float64(ok) / float64(finished)
		sp.Rate = strconv.FormatFloat(math.Floor(rate*1000)/10, 'f', 1, 64) + " %"
		sp.Color = rateColor(rate)
	}
	v.Title = fmt.Sprintf("success rate per hour over the last 24 hours: %s of %s finished executions", sp.Rate, sp.Finished)
	inner := sparkHeight - 2*sparkPad
	for i, s := range slots {
		n := s.Success + s.Failed
		if n == 0 {
			continue
		}
		rate := float64(s.Success) / float64(n)
		h := max(int(math.Round(rate*float64(inner))), 2)
		v.Bars = append(v.Bars, sparkBar{
			X: sparkPad + i*sparkSlot, Y: sparkPad + inner - h, W: sparkSlot - 1, H: h, Color: rateColor(rate),
			Title: fmt.Sprintf("%s: %d of %d succeeded", hourRange(s.Hour), s.Success, n),
		})
	}
	svg, err := drawSVG("sparkline", v)
	if err != nil {
		return nil, err
	}
	sp.SVG = svg
	return sp, nil
}
