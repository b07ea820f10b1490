package flow

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// lets builds "let a0 = first; let a1 = step(a0); ... last(aN)".
func lets(first string, n int, step func(prev string) string, last func(final string) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "let a0 = %s; ", first)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "let a%d = %s; ", i, step(fmt.Sprintf("a%d", i-1)))
	}
	b.WriteString(last(fmt.Sprintf("a%d", n)))
	return b.String()
}

// bigArray is a JSON array of n ones.
func bigArray(n int) []byte {
	return []byte("[" + strings.TrimSuffix(strings.Repeat("1,", n), ",") + "]")
}

// TestExpressionSandbox feeds hostile expressions to the compiler and the
// evaluator: each is refused when the flow is saved (422) or fails the step
// attempt with a clear message; none hangs or runs the process out of
// memory. A case that has not returned after 20 s fails as a hang.
func TestExpressionSandbox(t *testing.T) {
	t.Parallel()
	const (
		tooMuchWork = "the expression does too much work"
		memory      = "memory budget exceeded"
	)
	for _, tc := range []struct {
		name       string
		expr       string
		body       []byte
		compileErr string // substring of the compile error
		runErr     string // substring of the evaluation error
	}{
		{name: "huge range", expr: `len(1..100000000) > 0`, runErr: memory},
		{name: "huge range computed at run time", expr: `len(1..status*1000000) > 0`, runErr: memory},
		{name: "map over a huge range", expr: `len(map(1..100000000, #)) > 0`, runErr: memory},
		{name: "map over a float range", expr: `len(map(1..1e8, #)) > 0`, compileErr: "mismatched types int and float64"},
		{name: "reduce over a huge range", expr: `reduce(1..100000000, #acc + #) > 0`, runErr: memory},
		{name: "reduce computed at run time", expr: `reduce(1..status*100000, #acc + #, 0) > 0`, runErr: memory},
		{name: "sum over a huge range", expr: `sum(1..status*1000000) > 0`, runErr: memory},
		{name: "nested loops over ranges", expr: `any(1..1000, any(1..1000, any(1..1000, false)))`, runErr: memory},
		{name: "nested loops over the body", expr: `count(body, any(body, # == 2)) > 0`, body: bigArray(20000), runErr: tooMuchWork},
		{name: "repeat", expr: `len(repeat("x", 100000000)) > 0`, compileErr: "unknown name repeat"},
		{name: "string doubling", expr: lets(`"xxxxxxxxxxxxxxxx"`, 40, func(p string) string { return p + " + " + p }, func(f string) string { return "len(" + f + ") > 0" }), runErr: tooMuchWork},
		{name: "array doubling with concat", expr: lets(`[1,2,3,4,5,6,7,8]`, 40, func(p string) string { return "concat(" + p + ", " + p + ")" }, func(f string) string { return "len(" + f + ") > 0" }), runErr: tooMuchWork},
		{name: "shared tree to JSON", expr: lets(`{"a": 1}`, 60, func(p string) string { return "[" + p + ", " + p + "]" }, func(f string) string { return "len(toJSON(" + f + ")) > 0" }), runErr: tooMuchWork},
		{name: "shared tree to string", expr: lets(`{"a": 1}`, 60, func(p string) string { return "[" + p + ", " + p + "]" }, func(f string) string { return "len(string(" + f + ")) > 0" }), runErr: tooMuchWork},
		{name: "shared tree compared", expr: lets(`{"a": 1}`, 60, func(p string) string { return "[" + p + ", " + p + "]" }, func(f string) string { return f + " == " + f }), runErr: tooMuchWork},
		{name: "shared tree flattened", expr: lets(`[1]`, 60, func(p string) string { return "[" + p + ", " + p + "]" }, func(f string) string { return "len(flatten(" + f + ")) > 0" }), runErr: tooMuchWork},
		{name: "joined copies of the body", expr: `len(join(map(1..1000, string(body)), "")) > 0`, body: bigArray(100000), runErr: tooMuchWork},
		{name: "quadratic replace", expr: `len(replace(toJSON(body), "", toJSON(body))) > 0`, body: bigArray(20000), runErr: tooMuchWork},
		{name: "scanning the body in a loop", expr: `count(1..100000, toJSON(body) contains "zz") > 0`, body: bigArray(20000), runErr: tooMuchWork},
		{name: "deep nesting of operators", expr: `status == ` + strings.Repeat("-(", 1000) + "1" + strings.Repeat(")", 1000), compileErr: "exceeds maximum allowed nodes"},
		{name: "deep nesting of arrays", expr: `len(` + strings.Repeat("[", 1500) + strings.Repeat("]", 1500) + `) > 0`, compileErr: "exceeds maximum allowed nodes"},
		{name: "deep nesting of parentheses", expr: strings.Repeat("(", 2000) + "true" + strings.Repeat(")", 2000)},
		{name: "too long", expr: strings.Repeat(" ", 5000) + "true", compileErr: "must be at most 4096 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw, _ := json.Marshal(map[string]string{"expression": tc.expr})
			type result struct {
				compile []FieldError
				ok      bool
				err     error
			}
			done := make(chan result, 1)
			go func() {
				c, errs := CompileCondition(raw)
				if errs != nil {
					done <- result{compile: errs}
					return
				}
				body := tc.body
				if body == nil {
					body = []byte(`{"ok": true}`)
				}
				ok, _, err := c.Evaluate(&Response{Status: 200, Body: body}, nil)
				done <- result{ok: ok, err: err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("%s: no answer after 20 s (hangs)", tc.name)
			}
			switch {
			case tc.compileErr != "":
				if len(r.compile) != 1 || r.compile[0].Field != "expression" || !strings.Contains(r.compile[0].Message, tc.compileErr) {
					t.Errorf("compile errors %v, want one on expression containing %q", r.compile, tc.compileErr)
				}
			case tc.runErr != "":
				if r.compile != nil {
					t.Fatalf("compile errors %v, want the expression to compile", r.compile)
				}
				if r.err == nil || !strings.Contains(r.err.Error(), tc.runErr) || r.ok {
					t.Errorf("evaluation: ok %v, error %v; want an error containing %q", r.ok, r.err, tc.runErr)
				}
			default:
				if r.compile != nil || r.err != nil {
					t.Errorf("want the expression to compile and run (bounded), got %v %v", r.compile, r.err)
				}
			}
		})
	}
}

// TestExpressionSandboxKeepsTheLanguage checks that ordinary conditions
// work the same inside the sandbox.
func TestExpressionSandboxKeepsTheLanguage(t *testing.T) {
	t.Parallel()
	resp := &Response{
		Status:     201,
		Headers:    map[string]string{"content-type": "application/json; charset=utf-8"},
		Body:       []byte(`{"ok": true, "id": "u-42", "items": [{"qty": 2, "sku": "a"}, {"qty": 0, "sku": "b"}], "tags": ["x", "y"], "n": 3.5}`),
		DurationMS: 12,
	}
	vars := map[string]any{"user": "u-42", "limit": int64(10), "skus": []any{"a", "c"}}
	for _, tc := range []struct {
		expr string
		want bool
	}{
		{`status == 201 && body.ok`, true},
		{`status in [200, 201, 202]`, true},
		{`status >= 200 && status < 300 && duration_ms < 1000`, true},
		{`headers["content-type"] contains "json"`, true},
		{`headers["content-type"] startsWith "application/"`, true},
		{`lower(headers["content-type"]) endsWith "utf-8"`, true},
		{`body.id == vars.user`, true},
		{`body.id == "u-" + string(42)`, true},
		{`body.id matches "^u-[0-9]+$"`, true},
		{`len(body.items) == 2 && any(body.items, #.qty > 0)`, true},
		{`all(body.items, #.qty > 0)`, false},
		{`count(body.items, #.sku in vars.skus) == 1`, true},
		{`sum(map(body.items, #.qty)) == 2`, true},
		{`"x" in body.tags && !("z" in body.tags)`, true},
		{`"z" not in body.tags`, true},
		{`body.n + 1 > 4`, true},
		{`body.tags == ["x", "y"]`, true},
		{`body.tags != ["x"]`, true},
		{`join(body.tags, ",") == "x,y"`, true},
		{`upper(body.items[0].sku) == "A"`, true},
		{`toJSON(body.tags) contains "x"`, true},
		{`fromJSON("[1,2]")[1] == 2`, true},
		{`let q = body.items[0].qty; q * 2 == 4`, true},
		{`reduce(body.items, #acc + #.qty, 0) == 2`, true},
		{`filter(body.items, #.qty == 0)[0].sku == "b"`, true},
		{`vars.limit > len(body.items)`, true},
		{`body.missing?.deep == nil`, true},
		{`trim("  a ") == "a" && split("a,b", ",")[1] == "b"`, true},
		{`max(body.items[0].qty, 1) == 2`, true},
		{`replace(body.id, "u-", "") == "42"`, true},
		{`keys({"a": 1})[0] == "a"`, true},
	} {
		raw, _ := json.Marshal(map[string]string{"expression": tc.expr})
		c, errs := CompileCondition(raw)
		if errs != nil {
			t.Errorf("%s: compile errors %v", tc.expr, errs)
			continue
		}
		ok, reason, err := c.Evaluate(resp, vars)
		if err != nil || ok != tc.want {
			t.Errorf("%s: got %v (%s, %v), want %v", tc.expr, ok, reason, err, tc.want)
		}
	}
}
