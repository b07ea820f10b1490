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
	if h == nil {
		return nil
	}
	out := make(map[string]string, len(h))
	for name, value := range h {
		if SensitiveName(name) {
			value = Mask
		}
		out[name] = value
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
	values := make(map[string][]string, len(h))
	for _, name := range slices.Sorted(maps.Keys(h)) {
		canonical := http.CanonicalHeaderKey(name)
		values[canonical] = append(values[canonical], h[name]...)
	}
	out := make(map[string]string, len(values))
	for name, vs := range values {
		if SensitiveName(name) {
			out[name] = Mask
			continue
		}
		out[name] = strings.Join(vs, ", ")
	}
	return out
}
