package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"github.com/tidwall/gjson"
)

// A success_condition is a JSON object with any of these keys; every key
// present must hold for a step attempt to succeed:
//
//   - status_code: an integer 100..599, or a non-empty list of them; the
//     response status must be one of them.
//   - response_key: a gjson path that must exist in the JSON response body.
//   - expected_value: any JSON value (only with response_key); the value at
//     response_key must equal it (JSON equality, numbers compared by value,
//     so 1 equals 1.0).
//   - expression: an expr-lang expression returning a boolean, over status
//     (int), headers (map of lower-case names to values), body (the parsed
//     JSON body, or the raw body as a string when it is not JSON),
//     duration_ms (int) and vars (the execution's variables).
//
// A null, absent or empty ({}) condition means "status is 2xx". A condition
// without status_code does not check the status at all. Keys whose value is
// null (except expected_value) and an empty expression count as absent.
//
// Expressions are sandboxed: at most maxExpressionLen bytes and
// maxExpressionNodes syntax nodes, a per-run memory budget of
// exprMemoryBudget elements (so "len(1..100000000)" fails instead of
// allocating), a per-run cost budget of exprCostBudget units for strings,
// collections and loops (sandbox.go), no repeat() builtin, and evaluation
// never panics.

// Limits of a success condition expression.
const (
	maxExpressionLen    = 4096
	maxExpressionNodes  = 1000
	exprMemoryBudget    = 1_000_000
	maxResponseKeyLen   = 1024
	maxReasonValueBytes = 100
)

// Response is what a step's HTTP call returned, as the pure parts see it.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// Headers are the response headers, names in lower case, multiple values
	// joined with ", ".
	Headers map[string]string
	// Body is the response body (possibly truncated by the caller).
	Body []byte
	// DurationMS is how long the request took, in milliseconds.
	DurationMS int64
}

// Condition is a compiled success_condition, ready to be evaluated against
// responses. It is safe for concurrent use.
type Condition struct {
	statusCodes    []int // nil: no status check
	responseKey    string
	hasResponseKey bool
	expected       any // decoded with json.Number numbers
	hasExpected    bool
	expression     string
	program        *vm.Program // nil: no expression
}

// conditionVars is the environment a condition expression is written
// against.
type conditionVars struct {
	Status     int               `expr:"status"`
	Headers    map[string]string `expr:"headers"`
	Body       any               `expr:"body"`
	DurationMS int               `expr:"duration_ms"`
	Vars       map[string]any    `expr:"vars"`
}

// conditionEnv is the environment a condition runs in: conditionVars and
// the evaluation's cost budget (see sandbox.go).
type conditionEnv struct {
	conditionVars
	Budget *exprBudget `expr:"_flowd_budget"`
}

// CompileCondition compiles a step's success_condition. The fields of the
// returned errors are relative to the condition object ("expression",
// "status_code[1]"; "" for the object itself). Null, empty or {} compiles to
// the condition "status is 2xx".
func CompileCondition(raw json.RawMessage) (*Condition, []FieldError) {
	c := &Condition{}
	if t := bytes.TrimSpace(raw); len(t) == 0 || string(t) == "null" {
		return c, nil
	}
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, []FieldError{{Field: "", Message: "must be valid JSON"}}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, []FieldError{{Field: "", Message: "must be an object"}}
	}
	var errs []FieldError
	add := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }
	// text reads the text field key: ok when it is a string neither blank
	// nor longer than maxLen bytes. null is no text; blank is an error only
	// if required.
	text := func(key string, val any, maxLen int, required bool) (s string, ok bool) {
		s, isString := val.(string)
		switch {
		case val == nil:
		case !isString:
			add(key, "must be a string")
		case strings.TrimSpace(s) == "":
			if required {
				add(key, "must not be empty")
			}
		case len(s) > maxLen:
			add(key, fmt.Sprintf("must be at most %d characters", maxLen))
		default:
			return s, true
		}
		return "", false
	}

	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		val := obj[key]
		switch key {
		case "status_code":
			if val == nil {
				continue
			}
			codes, fes := compileStatusCodes(val)
			errs = append(errs, fes...)
			c.statusCodes = codes
		case "response_key":
			if s, ok := text(key, val, maxResponseKeyLen, true); ok {
				c.responseKey, c.hasResponseKey = s, true
			}
		case "expected_value":
			c.expected, c.hasExpected = val, true
		case "expression":
			s, ok := text(key, val, maxExpressionLen, false)
			if !ok {
				continue
			}
			program, err := compileExpression(s)
			if err != nil {
				add(key, err.Error())
				continue
			}
			c.expression, c.program = s, program
		default:
			add(key, "unknown field")
		}
	}
	if _, ok := obj["expected_value"]; ok {
		if rk, ok := obj["response_key"]; !ok || rk == nil {
			add("expected_value", "is only allowed together with response_key")
		}
	}
	if len(errs) > 0 {
		sortFieldErrors(errs)
		return nil, errs
	}
	return c, nil
}

// compileStatusCodes checks a status_code value: one code or a non-empty
// list of codes.
func compileStatusCodes(v any) ([]int, []FieldError) {
	const msg = "must be an integer between 100 and 599"
	if list, ok := v.([]any); ok {
		if len(list) == 0 {
			return nil, []FieldError{{Field: "status_code", Message: "must not be an empty list"}}
		}
		var errs []FieldError
		codes := make([]int, 0, len(list))
		for i, e := range list {
			code, ok := statusCode(e)
			if !ok {
				errs = append(errs, FieldError{Field: fmt.Sprintf("status_code[%d]", i), Message: msg})
				continue
			}
			codes = append(codes, code)
		}
		return codes, errs
	}
	code, ok := statusCode(v)
	if !ok {
		return nil, []FieldError{{Field: "status_code", Message: msg + " or a list of them"}}
	}
	return []int{code}, nil
}

// statusCode returns v as an HTTP status code, if it is one.
func statusCode(v any) (int, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	code, err := strconv.Atoi(n.String())
	if err != nil || code < 100 || code > 599 {
		return 0, false
	}
	return code, true
}

// compileExpression compiles a condition expression in its sandbox.
func compileExpression(s string) (*vm.Program, error) {
	return compileSandboxed(s, conditionVars{}, conditionEnv{})
}

// compileSandboxed compiles a boolean expression written against vars
// into a program that runs against env: vars plus the cost budget (a field
// tagged exprBudgetName, see sandbox.go).
func compileSandboxed(s string, vars, env any) (program *vm.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			program, err = nil, fmt.Errorf("expression does not compile: %v", r)
		}
	}()
	opts := []expr.Option{
		expr.AsBool(),
		expr.MaxNodes(maxExpressionNodes),
		expr.DisableBuiltin("repeat"),
	}
	// Compiled as written first, for its error messages; then patched into
	// the sandbox (sandbox.go).
	if _, err := expr.Compile(s, append(opts, expr.Env(vars))...); err != nil {
		return nil, errors.New(exprMessage(err))
	}
	opts = append(append(opts, expr.Env(env)), sandboxOptions()...)
	program, err = expr.Compile(s, opts...)
	if err != nil {
		return nil, fmt.Errorf("expression does not compile in the sandbox: %s", exprMessage(err))
	}
	return program, nil
}

// runSandboxed runs a program of compileSandboxed against env (whose
// budget must be set) and returns its boolean result; a run-time error,
// running out of budget and a result that is not a boolean are errors.
func runSandboxed(program *vm.Program, env any) (bool, error) {
	machine := vm.VM{MemoryBudget: exprMemoryBudget}
	out, err := machine.Run(program, env)
	if err != nil {
		return false, fmt.Errorf("evaluate expression: %s", exprMessage(err))
	}
	b, isBool := out.(bool)
	if !isBool {
		return false, fmt.Errorf("evaluate expression: returned %T, not a boolean", out)
	}
	return b, nil
}

// exprMessage is expr's error message on one line, with the position.
func exprMessage(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		if fe.Line > 0 {
			return fmt.Sprintf("%s (%d:%d)", fe.Message, fe.Line, fe.Column+1)
		}
		return fe.Message
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

// Evaluate tells whether the response meets the condition. When it does
// not, reason says which check failed, for example
// `status 500 not in [200 201]`, `response_key "data.ok" is missing`,
// `response_key "status" is "x", expected "ok"` or
// `expression returned false`. err is set when the expression fails at run
// time (the attempt fails too). Evaluate never panics; a nil condition means
// "status is 2xx".
func (c *Condition) Evaluate(r *Response, vars map[string]any) (ok bool, reason string, err error) {
	defer func() {
		if p := recover(); p != nil {
			ok, reason, err = false, "expression failed", fmt.Errorf("evaluate condition: %v", p)
		}
	}()
	if r == nil {
		r = &Response{}
	}
	if c == nil || (c.statusCodes == nil && !c.hasResponseKey && c.program == nil) {
		if r.Status < 200 || r.Status > 299 {
			return false, fmt.Sprintf("status %d is not 2xx", r.Status), nil
		}
		return true, "", nil
	}
	if c.statusCodes != nil && !slices.Contains(c.statusCodes, r.Status) {
		return false, fmt.Sprintf("status %d not in %v", r.Status, c.statusCodes), nil
	}
	if c.hasResponseKey {
		if !gjson.ValidBytes(r.Body) {
			return false, fmt.Sprintf("response_key %q is missing: the body is not JSON", c.responseKey), nil
		}
		res := gjson.GetBytes(r.Body, c.responseKey)
		if !res.Exists() {
			return false, fmt.Sprintf("response_key %q is missing", c.responseKey), nil
		}
		if c.hasExpected {
			got, err := decodeJSON([]byte(res.Raw))
			if err != nil || !jsonEqual(got, c.expected) {
				return false, fmt.Sprintf("response_key %q is %s, expected %s",
					c.responseKey, reasonValue([]byte(res.Raw)), reasonValue(mustMarshal(c.expected))), nil
			}
		}
	}
	if c.program != nil {
		env := conditionEnv{
			conditionVars: conditionVars{
				Status:     r.Status,
				Headers:    r.Headers,
				Body:       exprBody(r.Body),
				DurationMS: int(r.DurationMS),
				Vars:       exprVars(vars),
			},
			Budget: newExprBudget(),
		}
		if env.Headers == nil {
			env.Headers = map[string]string{}
		}
		b, err := runSandboxed(c.program, env)
		if err != nil {
			return false, "expression failed", err
		}
		if !b {
			return false, "expression returned false", nil
		}
	}
	return true, "", nil
}

// exprBody is the body as an expression sees it: parsed JSON, or the raw
// text.
func exprBody(body []byte) any {
	if len(bytes.TrimSpace(body)) == 0 || !json.Valid(body) {
		return string(body)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return string(body)
	}
	return v
}

// exprVars is vars with every json.Number and json.RawMessage turned into
// values expressions can compare (int64, float64, decoded JSON).
func exprVars(vars map[string]any) map[string]any {
	out := make(map[string]any, len(vars))
	for k, v := range vars {
		out[k] = exprValue(v)
	}
	return out
}

// exprValue converts one variable value for an expression.
func exprValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case json.RawMessage:
		var d any
		if err := json.Unmarshal(x, &d); err != nil {
			return string(x)
		}
		return d
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = exprValue(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = exprValue(e)
		}
		return s
	default:
		return v
	}
}

// jsonEqual compares two decoded JSON values (numbers as json.Number),
// numbers by value.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case json.Number:
		y, ok := b.(json.Number)
		return ok && numberEqual(x, y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !jsonEqual(xv, yv) {
				return false
			}
		}
		return true
	}
	return false
}

// numberEqual compares two JSON numbers by value: exactly as integers when
// both are, otherwise as float64.
func numberEqual(a, b json.Number) bool {
	if ai, err := a.Int64(); err == nil {
		if bi, err := b.Int64(); err == nil {
			return ai == bi
		}
	}
	af, aerr := a.Float64()
	bf, berr := b.Float64()
	if aerr != nil || berr != nil {
		return a == b
	}
	return af == bf
}

// reasonValue is a JSON value shortened for a reason message.
func reasonValue(raw []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return truncate(string(raw), maxReasonValueBytes)
	}
	return truncate(buf.String(), maxReasonValueBytes)
}

// mustMarshal encodes a decoded JSON value, which cannot fail.
func mustMarshal(v any) []byte {
	b, err := marshalNoEscape(v)
	if err != nil {
		return []byte("null")
	}
	return b
}
