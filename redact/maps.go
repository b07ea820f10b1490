package redact

import (
	"maps"
	"net/http"
	"slices"
	"strings"
)

// Headers returns a copy of h with the values of sensitive headers (see
// SensitiveName) replaced by Mask. Names are kept as given. A nil map gives
// nil.
func Headers(h map[string]string) map[string]string {
	return byName(h, Mask, func(value string) string { return value })
}

// Vars returns a copy of vars in which the value of every variable with a
// sensitive name (see SensitiveName) is replaced by Mask, whatever its type.
// Objects (map[string]any) and arrays ([]any) under other names are copied
// and masked the same way, at any depth. A nil map gives nil.
func Vars(vars map[string]any) map[string]any {
	return byName(vars, any(Mask), varsValue)
}

func varsValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return Vars(v)
	case map[string]string:
		return Headers(v)
	case []any:
		out := make([]any, len(v))
		for i, value := range v {
			out[i] = varsValue(value)
		}
		return out
	}
	return v
}

// byName returns a copy of m in which the value under every sensitive name
// is mask and every other value is what keep makes of it. A nil map gives
// nil.
func byName[V any](m map[string]V, mask V, keep func(V) V) map[string]V {
	if m == nil {
		return nil
	}
	out := make(map[string]V, len(m))
	for name, value := range m {
		if SensitiveName(name) {
			out[name] = mask
			continue
		}
		out[name] = keep(value)
	}
	return out
}

// HTTPHeader returns h flattened for a record: one entry per canonical
// header name, its values joined with ", ", and the values of sensitive
// headers replaced by Mask. A nil header gives nil.
func HTTPHeader(h http.Header) map[string]string {
	if h == nil {
		return nil
	}
	out := make(map[string]string, len(h))
	canonical := true
	for name, vs := range h {
		if name != http.CanonicalHeaderKey(name) {
			canonical = false
			break
		}
		out[name] = flatHeader(name, vs)
	}
	if canonical { // nearly always: net/http canonicalizes what it reads and sets
		return out
	}
	// Names that differ only in case are one header: their values are
	// joined in the order of the names' sort.
	clear(out)
	values := make(map[string][]string, len(h))
	for _, name := range slices.Sorted(maps.Keys(h)) {
		canonical := http.CanonicalHeaderKey(name)
		values[canonical] = append(values[canonical], h[name]...)
	}
	for name, vs := range values {
		out[name] = flatHeader(name, vs)
	}
	return out
}

// flatHeader is the recorded value of the header name: Mask if the name is
// sensitive, else its values joined with ", ".
func flatHeader(name string, values []string) string {
	switch {
	case SensitiveName(name):
		return Mask
	case len(values) == 1:
		return values[0]
	}
	return strings.Join(values, ", ")
}
