package flow

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Extraction reads each of a step's variables out of its response, by type:
//
//   - body: the gjson path in Location, on the JSON response body;
//   - header: the response header named in Location (any case);
//   - status: the response status code;
//   - custom: the literal CustomValue.
//
// The value is then converted to the variable's DataType (Convert). A body
// path or header that is missing takes CustomValue as its default when
// CustomValue is not empty; missing with no default is an error. A body
// value that is JSON null takes the default too, and otherwise stays nil
// (which templates treat as "not set"). Numbers keep their exact text until
// converted, so large integer ids survive.

// Extract reads the given variables out of r and returns them by name.
// Errors name the variable, for example `variable "id": body path "a.b" not
// found`.
func Extract(vars []Variable, r *Response) (map[string]any, error) {
	if r == nil {
		r = &Response{}
	}
	out := make(map[string]any, len(vars))
	var bodyValid, bodyChecked bool
	for _, v := range vars {
		var value any
		switch strings.ToLower(v.Type) {
		case VarTypeBody:
			if !bodyChecked {
				bodyValid, bodyChecked = gjson.ValidBytes(r.Body), true
			}
			var res gjson.Result
			if bodyValid {
				res = gjson.GetBytes(r.Body, v.Location)
			}
			switch {
			case !res.Exists():
				if v.CustomValue == "" {
					if !bodyValid {
						return nil, fmt.Errorf("variable %q: body path %q not found: the body is not JSON", v.Name, v.Location)
					}
					return nil, fmt.Errorf("variable %q: body path %q not found", v.Name, v.Location)
				}
				value = v.CustomValue
			case res.Type == gjson.Null && v.CustomValue != "":
				value = v.CustomValue
			default:
				value = gjsonValue(res)
			}
		case VarTypeHeader:
			h, ok := r.Headers[strings.ToLower(v.Location)]
			switch {
			case ok:
				value = h
			case v.CustomValue != "":
				value = v.CustomValue
			default:
				return nil, fmt.Errorf("variable %q: header %q not found", v.Name, v.Location)
			}
		case VarTypeStatus:
			value = int64(r.Status)
		case VarTypeCustom:
			value = v.CustomValue
		default:
			return nil, fmt.Errorf("variable %q: unknown type %q", v.Name, v.Type)
		}
		converted, err := Convert(value, v.DataType)
		if err != nil {
			return nil, fmt.Errorf("variable %q: %w", v.Name, err)
		}
		out[v.Name] = converted
	}
	return out, nil
}

// gjsonValue is the value of a gjson result: numbers as json.Number (exact
// text), objects and arrays decoded with json.Number numbers.
func gjsonValue(res gjson.Result) any {
	switch res.Type {
	case gjson.Null:
		return nil
	case gjson.False:
		return false
	case gjson.True:
		return true
	case gjson.String:
		return res.Str
	case gjson.Number:
		if json.Valid([]byte(res.Raw)) {
			return json.Number(res.Raw)
		}
		return res.Num
	default: // gjson.JSON
		if v, err := decodeJSON([]byte(res.Raw)); err == nil {
			return v
		}
		return res.Value()
	}
}

// Convert converts a value to a variable data type:
//
//   - string: strings as they are, numbers as their text, booleans as
//     "true"/"false", objects and arrays as compact JSON;
//   - number: float64, from numbers or numeric strings;
//   - integer: int64, from numbers without a fraction or integer strings;
//   - boolean: bool, from booleans or the strings "true"/"false" (any case);
//   - object: map[string]any, from objects or a string holding a JSON object;
//   - array: []any, from arrays or a string holding a JSON array.
//
// An empty data type means string. nil converts to nil. A value that cannot
// be converted gives an error such as `cannot convert "abc" to integer`.
func Convert(v any, dataType string) (any, error) {
	if v == nil {
		return nil, nil
	}
	dt := strings.ToLower(dataType)
	if dt == "" {
		dt = DataTypeString
	}
	fail := func() (any, error) {
		return nil, fmt.Errorf("cannot convert %s to %s", describeValue(v), dt)
	}
	switch dt {
	case DataTypeString:
		s, err := valueText(v)
		if err != nil {
			return fail()
		}
		return s, nil
	case DataTypeNumber:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		}
		if s, ok := numberText(v); ok {
			return parseNumber(s, fail)
		}
		return fail()
	case DataTypeInteger:
		switch x := v.(type) {
		case int:
			return int64(x), nil
		case int64:
			return x, nil
		case float64:
			return floatToInt(x, fail)
		}
		if s, ok := numberText(v); ok {
			return parseInteger(s, fail)
		}
		return fail()
	case DataTypeBoolean:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
		return fail()
	case DataTypeObject:
		if m, ok := jsonAs[map[string]any](v); ok {
			return m, nil
		}
		return fail()
	case DataTypeArray:
		if a, ok := jsonAs[[]any](v); ok {
			return a, nil
		}
		return fail()
	}
	return nil, fmt.Errorf("unknown data type %q", dataType)
}

// numberText returns the text of a number written as text: a json.Number
// as it is, a string without surrounding white space.
func numberText(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		return string(x), true
	case string:
		return strings.TrimSpace(x), true
	}
	return "", false
}

// jsonAs returns v as a T (a JSON object or array), also when v is a string
// holding the JSON of one.
func jsonAs[T map[string]any | []any](v any) (T, bool) {
	if x, ok := v.(T); ok {
		return x, true
	}
	if s, ok := v.(string); ok {
		if d, err := decodeJSON([]byte(s)); err == nil {
			x, ok := d.(T)
			return x, ok
		}
	}
	var zero T
	return zero, false
}

// parseNumber parses a decimal number, refusing NaN and infinities.
func parseNumber(s string, fail func() (any, error)) (any, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || !looksNumeric(s) {
		return fail()
	}
	return f, nil
}

// parseInteger parses an integer, also written with a zero fraction or an
// exponent ("42.0", "1e3").
func parseInteger(s string, fail func() (any, error)) (any, error) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !looksNumeric(s) {
		return fail()
	}
	return floatToInt(f, fail)
}

// floatToInt converts a float without a fraction to int64.
func floatToInt(f float64, fail func() (any, error)) (any, error) {
	if f != math.Trunc(f) || math.IsInf(f, 0) || math.IsNaN(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return fail()
	}
	return int64(f), nil
}

// looksNumeric reports whether s is written as a plain decimal number (so
// that ParseFloat's "Inf", "NaN", hex and underscores are refused).
func looksNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E':
		default:
			return false
		}
	}
	return true
}

// describeValue shows a value in an error message: compact JSON, shortened.
func describeValue(v any) string {
	b, err := marshalNoEscape(v)
	if err != nil {
		return truncate(fmt.Sprint(v), 64)
	}
	return truncate(string(b), 64)
}
