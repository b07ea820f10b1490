package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// funcs are the template helpers; they format, html/template escapes.
var funcs = template.FuncMap{
	"ts":      formatTime,
	"dur":     formatDuration,
	"ms":      func(n int64) string { return strconv.FormatInt(n, 10) + " ms" },
	"body":    prettyBody,
	"headers": sortedHeaders,
	"ints":    joinInts,
	"count":   countOf,
	"str": func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	},
	"stepLegend": stepLegend,
	"code": func(c *int) string {
		if c == nil {
			return "no response"
		}
		return strconv.Itoa(*c)
	},
}

// formatTime formats a time or *time.Time in UTC with milliseconds, and a
// nil or zero time as "—".
func formatTime(v any) string {
	var t time.Time
	switch v := v.(type) {
	case time.Time:
		t = v
	case *time.Time:
		if v != nil {
			t = *v
		}
	}
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000Z")
}

// formatDuration rounds a duration for reading; zero is "—".
func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}

// prettyBody indents a JSON body and returns any other body as it is.
func prettyBody(s string) string {
	var buf bytes.Buffer
	if json.Valid([]byte(s)) && json.Indent(&buf, []byte(s), "", "  ") == nil {
		return buf.String()
	}
	return s
}

// header is one header line for display.
type header struct{ Name, Value string }

func sortedHeaders(h map[string]string) []header {
	out := make([]header, 0, len(h))
	for _, k := range slices.Sorted(maps.Keys(h)) {
		out = append(out, header{k, h[k]})
	}
	return out
}

func joinInts(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, ", ")
}

// countOf writes n with a time unit, singular for one: "1 second",
// "5 seconds" (retry_delay_unit is stored plural, as the API takes it).
func countOf(n int, unit string) string {
	if n == 1 {
		unit = strings.TrimSuffix(unit, "s")
	}
	return strconv.Itoa(n) + " " + unit
}
