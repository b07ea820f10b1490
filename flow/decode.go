package flow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FlowInput is a validated flow definition, as given to create, replace or
// apply a flow. DecodeFlow fills every default, so the zero values below
// never reach the store. Its JSON encoding (without the signing secret) is
// an input DecodeFlow accepts again.
type FlowInput struct {
	// WorkspaceID defaults to "default".
	WorkspaceID string `json:"workspace_id"`
	// Name is required: 1 to 200 characters, trimmed.
	Name string `json:"name"`
	Logo string `json:"logo"`
	// RetryDelay is 0 to 10000, default 5; with RetryDelayUnit it must not
	// exceed 30 days.
	RetryDelay int `json:"retry_delay"`
	// RetryDelayUnit is seconds, minutes, hours or days (lower case),
	// default seconds.
	RetryDelayUnit string `json:"retry_delay_unit"`
	// MaxRetries is 0 to 20, default 0.
	MaxRetries int  `json:"max_retries"`
	IsTemplate bool `json:"is_template"`
	// FlowDirection is inbound or outbound (lower case), default outbound.
	FlowDirection string `json:"flow_direction"`
	// FlowMapping is a JSON object, default {}: variable name to gjson path
	// in the trigger payload, plus the optional "records" mapping.
	FlowMapping  json.RawMessage `json:"flow_mapping"`
	TagName      string          `json:"tag_name"`
	CategoryName string          `json:"category_name"`
	// Schedule is a cron expression (see ParseSchedule), or nil for none.
	Schedule *string `json:"schedule"`
	// PropagateTrace sends the W3C trace context on outbound requests;
	// default true.
	PropagateTrace bool `json:"propagate_trace"`
	// Events are the event patterns the flow subscribes to (events.go);
	// never nil.
	Events []string `json:"events"`
	// EventFilter is an expression over the event that must be true for
	// the flow to start (eventfilter.go), or nil for none.
	EventFilter *string `json:"event_filter"`
	// SigningSecret is the write-only secret for Standard Webhooks
	// signatures, or nil for none. It is never encoded.
	SigningSecret *string `json:"-"`
	// GenerateSigningSecret asks flowd to make the signing secret
	// (generate_signing_secret); only a create honours it.
	GenerateSigningSecret bool `json:"-"`
	// PredefinedVariables is never nil.
	PredefinedVariables []PredefinedVariable `json:"predefinedVariables"`
	// Variables is never nil.
	Variables []Variable `json:"variables"`
	// Steps hold definition fields only: no ids, no timestamps.
	Steps []Step `json:"steps"`
}

// DecodeFlow decodes and validates a flow definition from a request body.
// A body that is not a JSON object gives an error wrapping
// ErrMalformedJSON; a flow that breaks any rule gives a *ValidationError
// listing every problem, sorted by field. Read-only fields a client may send
// back from a GET (id, status, timestamps and so on) are ignored; any other
// unknown field is an error.
func DecodeFlow(body []byte) (*FlowInput, error) {
	if err := checkWellFormed(body); err != nil {
		return nil, err
	}
	d := &decoder{}
	d.checkStrings(body)
	top, _ := d.object("", body)
	in := d.flow(top)
	if len(d.errs) > 0 {
		sortFieldErrors(d.errs)
		return nil, &ValidationError{Errors: d.errs}
	}
	return in, nil
}

// checkWellFormed checks that body is one UTF-8 JSON object and nothing
// else.
func checkWellFormed(body []byte) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return fmt.Errorf("%w: the body is empty", ErrMalformedJSON)
	}
	if !utf8.Valid(body) {
		return fmt.Errorf("%w: the body is not valid UTF-8", ErrMalformedJSON)
	}
	if _, err := decodeJSON(body); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedJSON, err)
	}
	if trimmed[0] != '{' {
		return fmt.Errorf("%w: the body must be a JSON object", ErrMalformedJSON)
	}
	return nil
}

// decoder reads a flow document field by field, collecting every problem.
type decoder struct {
	errs []FieldError
	// badStepID marks the variables whose stepId is missing or not an
	// integer (already reported).
	badStepID map[int]bool
}

// add records a problem with a field.
func (d *decoder) add(field, msg string) {
	d.errs = append(d.errs, FieldError{Field: field, Message: msg})
}

// addf records a problem with a field, formatted.
func (d *decoder) addf(field, format string, args ...any) {
	d.add(field, fmt.Sprintf(format, args...))
}

// checkStrings refuses NUL characters in every string and key of the
// document (PostgreSQL cannot store them) and numbers that do not fit a
// float64 (see numberInRange).
func (d *decoder) checkStrings(body []byte) {
	for _, fe := range checkJSONText("", body) {
		d.add(fe.Field, fe.Message)
	}
}

// Messages of checkJSONText.
const (
	nulMsg         = "must not contain NUL characters"
	numberRangeMsg = "number %s is out of range: JSON numbers must fit a 64-bit float (about ±1.8e308)"
)

// numberInRange reports whether a JSON number fits a float64: templates,
// conditions and extraction compute with float64, and PostgreSQL cannot
// store the largest exponents.
func numberInRange(n json.Number) bool {
	_, err := strconv.ParseFloat(string(n), 64)
	return err == nil
}

// checkJSONText returns a field error, under field, for each string or key
// of raw holding a NUL character and each number out of range.
func checkJSONText(field string, raw []byte) []FieldError {
	var errs []FieldError
	at := func(path string) string {
		if field == "" {
			return strings.TrimPrefix(path, ".")
		}
		if path == "" {
			return field
		}
		if strings.HasPrefix(path, ".") || strings.HasPrefix(path, "[") {
			return field + path
		}
		return field + "." + path
	}
	check := func(path, s string) error {
		if strings.IndexByte(s, 0) >= 0 {
			errs = append(errs, FieldError{Field: at(path), Message: nulMsg})
		}
		return nil
	}
	_ = walkJSON(raw, nil, func(path, s string) (json.RawMessage, error) {
		return nil, check(path, s)
	}, check, func(path string, n json.Number) error {
		if !numberInRange(n) {
			errs = append(errs, FieldError{Field: at(path), Message: fmt.Sprintf(numberRangeMsg, truncate(string(n), 40))})
		}
		return nil
	})
	return errs
}

// CheckJSONValue checks a JSON value flowd stores as it was given (a
// trigger's variables and payload) and returns it canonical (compacted;
// invalid UTF-8 and lone UTF-16 surrogates inside strings replaced by
// U+FFFD, as in flow definitions). Strings and keys holding a NUL
// character and numbers that do not fit a float64 are refused, each with a
// field error under field. An empty value is returned as it is.
func CheckJSONValue(field string, raw json.RawMessage) (json.RawMessage, []FieldError) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return raw, nil
	}
	if errs := checkJSONText(field, raw); len(errs) > 0 {
		sortFieldErrors(errs)
		return nil, errs
	}
	c, err := canonicalJSON(raw)
	if err != nil {
		return nil, []FieldError{{Field: field, Message: "must be valid JSON"}}
	}
	return c, nil
}

// object is a JSON object being read, its values kept raw.
type object struct {
	d      *decoder
	path   string
	fields map[string]json.RawMessage
}

// object starts reading raw as an object at path; it records a type error
// and returns false when raw is not an object.
func (d *decoder) object(path string, raw json.RawMessage) (*object, bool) {
	o := &object{d: d, path: path, fields: map[string]json.RawMessage{}}
	if jsonKind(raw) != '{' || json.Unmarshal(raw, &o.fields) != nil {
		d.add(path, "must be an object")
		return o, false
	}
	return o, true
}

// field is the path of one of the object's keys.
func (o *object) field(key string) string {
	return joinPath(o.path, key)
}

// joinPath is the path of key inside the value at path.
func joinPath(path, key string) string {
	if path == "" && isPlainKey(key) {
		return key
	}
	return path + keyPath(key)
}

// keys returns the object's keys, sorted.
func (o *object) keys() []string {
	keys := make([]string, 0, len(o.fields))
	for k := range o.fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkKeys records "unknown field" for every key neither in known nor in
// ignored (read-only fields a client may send back).
func (o *object) checkKeys(known, ignored []string) {
	for _, k := range o.keys() {
		if !slices.Contains(known, k) && !slices.Contains(ignored, k) {
			o.d.add(o.field(k), "unknown field")
		}
	}
}

// get returns a value that is present and not null.
func (o *object) get(key string) (json.RawMessage, bool) {
	raw, ok := o.fields[key]
	if !ok || jsonKind(raw) == 'n' {
		return nil, false
	}
	return raw, true
}

// str reads a string; present is false for an absent or null value or a
// type error.
func (o *object) str(key string) (s string, present bool) {
	raw, ok := o.get(key)
	if !ok {
		return "", false
	}
	if jsonKind(raw) != '"' || json.Unmarshal(raw, &s) != nil {
		o.d.add(o.field(key), "must be a string")
		return "", false
	}
	return s, true
}

// integer reads an integer (written as an integer, or as a number without
// a fraction). Integers too large for int are clamped so that range checks
// report them.
func (o *object) integer(key string) (n int, present bool) {
	raw, ok := o.get(key)
	if !ok {
		return 0, false
	}
	n, ok = parseIntJSON(raw)
	if !ok {
		o.d.add(o.field(key), "must be an integer")
		return 0, false
	}
	return n, true
}

// parseIntJSON parses a raw JSON number holding an integer.
func parseIntJSON(raw json.RawMessage) (int, bool) {
	if k := jsonKind(raw); k != '0' {
		return 0, false
	}
	text := string(bytes.TrimSpace(raw))
	i, err := strconv.ParseInt(text, 10, 64)
	if err == nil {
		return int(i), true
	}
	f, ferr := strconv.ParseFloat(text, 64)
	if ferr != nil && !math.IsInf(f, 0) {
		return 0, false
	}
	if f != math.Trunc(f) {
		return 0, false
	}
	switch {
	case f >= math.MaxInt32:
		return math.MaxInt32, true
	case f <= math.MinInt32:
		return math.MinInt32, true
	}
	return int(f), true
}

// boolean reads a boolean.
func (o *object) boolean(key string) (b bool, present bool) {
	raw, ok := o.get(key)
	if !ok {
		return false, false
	}
	if k := jsonKind(raw); k != 't' && k != 'f' {
		o.d.add(o.field(key), "must be a boolean")
		return false, false
	}
	return jsonKind(raw) == 't', true
}

// array reads an array, its elements raw.
func (o *object) array(key string) (elems []json.RawMessage, present bool) {
	raw, ok := o.get(key)
	if !ok {
		return nil, false
	}
	if jsonKind(raw) != '[' || json.Unmarshal(raw, &elems) != nil {
		o.d.add(o.field(key), "must be an array")
		return nil, false
	}
	return elems, true
}

// obj reads a nested object.
func (o *object) obj(key string) (*object, bool) {
	raw, ok := o.get(key)
	if !ok {
		return nil, false
	}
	return o.d.object(o.field(key), raw)
}

// jsonKind classifies a raw JSON value by its first byte: '{', '[', '"',
// 't', 'f', 'n' (null), '0' (a number) or 0 (empty or invalid).
func jsonKind(raw []byte) byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	switch c := raw[0]; c {
	case '{', '[', '"', 't', 'f', 'n':
		return c
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return '0'
	}
	return 0
}
