package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Templates are "{{name}}" placeholders, with optional spaces or tabs inside
// the braces ("{{ name }}"); a name is made of letters, digits and the
// characters "_", ".", "$" and "-". Anything else between double braces is
// left as written. Variables are passed as a map[string]any whose values
// are string, float64, int64 (or another integer type), json.Number, bool,
// nil, map[string]any, []any or json.RawMessage; the built-in variables
// ($execution_id, $flow_id, $attempt, $now) are passed by the caller in the
// same map. A variable present with the value nil counts as not set.

// placeholder matches one template placeholder; group 1 is the name.
var placeholder = regexp.MustCompile(`\{\{[ \t]*([A-Za-z0-9_.$-]+)[ \t]*\}\}`)

// wholePlaceholder matches a string that is exactly one placeholder.
var wholePlaceholder = regexp.MustCompile(`^\{\{[ \t]*([A-Za-z0-9_.$-]+)[ \t]*\}\}$`)

// Built-in template variables, set by the engine for every step request.
const (
	BuiltinExecutionID = "$execution_id"
	BuiltinFlowID      = "$flow_id"
	BuiltinAttempt     = "$attempt"
	BuiltinNow         = "$now"
)

// IsBuiltinVariable reports whether name is one of the built-in template
// variables.
func IsBuiltinVariable(name string) bool {
	switch name {
	case BuiltinExecutionID, BuiltinFlowID, BuiltinAttempt, BuiltinNow:
		return true
	}
	return false
}

// UnknownVariableError is the error of a template that uses a variable that
// is not set (absent, or present with the value nil).
type UnknownVariableError struct {
	Name string
}

// Error says which variable is not set.
func (e *UnknownVariableError) Error() string {
	return fmt.Sprintf("variable %q is not set", e.Name)
}

// TemplateNames returns the names of the placeholders in s, each once, in
// order of first appearance.
func TemplateNames(s string) []string {
	var names []string
	seen := map[string]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			names = append(names, m[1])
		}
	}
	return names
}

// TemplateNamesJSON returns the names of the placeholders in all string
// values (not keys) of a JSON document, each once, in order of first
// appearance. It returns nil for a document that is not valid JSON.
func TemplateNamesJSON(raw json.RawMessage) []string {
	var names []string
	seen := map[string]bool{}
	err := walkJSONStrings(raw, func(_, s string) error {
		for _, name := range TemplateNames(s) {
			if !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
		}
		return nil
	})
	if err != nil {
		return nil
	}
	return names
}

// RenderText replaces each placeholder in s by the text of its variable:
// strings as they are, integers as integers, float64 without exponent
// (strconv 'f', -1), booleans as true or false, objects and arrays as
// compact JSON. It returns an *UnknownVariableError for a variable that is
// not set.
func RenderText(s string, vars map[string]any) (string, error) {
	return render(s, vars, func(_ int, text string) string { return text })
}

// RenderURL renders a step URL: like RenderText, but each inserted value is
// escaped, with url.PathEscape before the template's first "?" and
// url.QueryEscape after it. A placeholder at the very start of the URL (as
// in "{{base_url}}/contacts") is the URL's base and is inserted unescaped.
// The rendered URL must be an absolute http or https URL with a host.
func RenderURL(raw string, vars map[string]any) (string, error) {
	query := strings.IndexByte(raw, '?')
	out, err := render(raw, vars, func(start int, text string) string {
		switch {
		case start == 0:
			return text
		case query < 0 || start < query:
			return url.PathEscape(text)
		default:
			return url.QueryEscape(text)
		}
	})
	if err != nil {
		return "", err
	}
	if err := checkHTTPURL(out); err != nil {
		return "", fmt.Errorf("rendered URL %q: %w", truncate(out, 200), err)
	}
	return out, nil
}

// RenderParams renders a step's webhook_url_params: a JSON object whose
// values are rendered as text (RenderText for strings, numbers as written,
// booleans, null as ""). Null or empty raw gives no parameters.
func RenderParams(raw json.RawMessage, vars map[string]any) (url.Values, error) {
	obj, err := decodeTemplateObject(raw, "webhook_url_params")
	if err != nil || obj == nil {
		return url.Values{}, err
	}
	values := url.Values{}
	for key, v := range obj {
		text, err := renderValueText(v, vars)
		if err != nil {
			return nil, fmt.Errorf("param %q: %w", key, err)
		}
		values.Set(key, text)
	}
	return values, nil
}

// RenderHeaders renders a step's webhook_headers: a JSON object whose values
// are rendered as text. A rendered value holding a line break or a NUL byte
// is an error (it would split the header). Null or empty raw gives no
// headers.
func RenderHeaders(raw json.RawMessage, vars map[string]any) (map[string]string, error) {
	obj, err := decodeTemplateObject(raw, "webhook_headers")
	if err != nil || obj == nil {
		return map[string]string{}, err
	}
	headers := make(map[string]string, len(obj))
	for name, v := range obj {
		text, err := renderValueText(v, vars)
		if err != nil {
			return nil, fmt.Errorf("header %q: %w", name, err)
		}
		if strings.ContainsAny(text, "\r\n\x00") {
			return nil, fmt.Errorf("header %q: value contains a line break or NUL byte", name)
		}
		headers[name] = text
	}
	return headers, nil
}

// RenderJSON renders a step's webhook_body. A string value that is exactly
// one placeholder becomes the variable's typed value (a number stays a
// number, an object stays an object); a placeholder inside a longer string
// is inserted as text. Object keys are not templated and keep their order.
// Null or empty raw is returned unchanged.
func RenderJSON(raw json.RawMessage, vars map[string]any) (json.RawMessage, error) {
	if t := bytes.TrimSpace(raw); len(t) == 0 || string(t) == "null" {
		return raw, nil
	}
	return rewriteJSONStrings(raw, func(_, s string) (json.RawMessage, error) {
		if m := wholePlaceholder.FindStringSubmatch(s); m != nil {
			v, err := lookup(vars, m[1])
			if err != nil {
				return nil, err
			}
			b, err := valueJSON(v)
			if err != nil {
				return nil, fmt.Errorf("variable %q: %w", m[1], err)
			}
			return b, nil
		}
		text, err := RenderText(s, vars)
		if err != nil {
			return nil, err
		}
		return marshalString(text), nil
	})
}

// render replaces each placeholder of s by the text of its variable, passed
// through insert with the placeholder's byte offset in s.
func render(s string, vars map[string]any, insert func(start int, text string) string) (string, error) {
	matches := placeholder.FindAllStringSubmatchIndex(s, -1)
	if len(matches) == 0 {
		return s, nil
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		name := s[m[2]:m[3]]
		v, err := lookup(vars, name)
		if err != nil {
			return "", err
		}
		text, err := valueText(v)
		if err != nil {
			return "", fmt.Errorf("variable %q: %w", name, err)
		}
		b.WriteString(s[last:m[0]])
		b.WriteString(insert(m[0], text))
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

// lookup returns the value of a set variable.
func lookup(vars map[string]any, name string) (any, error) {
	v, ok := vars[name]
	if !ok || v == nil {
		return nil, &UnknownVariableError{Name: name}
	}
	return v, nil
}

// decodeTemplateObject decodes a params or headers object; it returns nil
// for null or empty raw.
func decodeTemplateObject(raw json.RawMessage, what string) (map[string]any, error) {
	if t := bytes.TrimSpace(raw); len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", what, err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a JSON object", what)
	}
	return obj, nil
}

// renderValueText renders one params or headers value as text.
func renderValueText(v any, vars map[string]any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return RenderText(x, vars)
	default:
		return valueText(x)
	}
}

// valueText is the text form of a variable's value.
func valueText(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case bool:
		return strconv.FormatBool(x), nil
	case json.RawMessage:
		v, err := decodeJSON(x)
		if err != nil {
			return "", err
		}
		if s, ok := v.(string); ok {
			return s, nil
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, bytes.TrimSpace(x)); err != nil {
			return "", err
		}
		if buf.String() == "null" {
			return "", nil
		}
		return buf.String(), nil
	default:
		b, err := marshalNoEscape(x)
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
}

// valueJSON is the JSON form of a variable's value, for typed insertion.
func valueJSON(v any) (json.RawMessage, error) {
	switch x := v.(type) {
	case json.Number:
		if !json.Valid([]byte(x)) {
			return marshalString(string(x)), nil
		}
		return json.RawMessage(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v cannot be written as JSON", x)
		}
		return json.RawMessage(strconv.FormatFloat(x, 'f', -1, 64)), nil
	case json.RawMessage:
		var buf bytes.Buffer
		if err := json.Compact(&buf, bytes.TrimSpace(x)); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	default:
		return marshalNoEscape(x)
	}
}

// decodeJSON decodes one JSON document into any, numbers as json.Number,
// refusing trailing data.
func decodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the top-level value")
	}
	return v, nil
}

// checkHTTPURL checks that s is an absolute http or https URL with a host.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a valid URL")
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "http" && scheme != "https" {
		return errors.New("not an absolute http or https URL")
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("URL has no host")
	}
	return nil
}

// truncate shortens s to at most n bytes (on a rune boundary), marking the
// cut with "...".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}
