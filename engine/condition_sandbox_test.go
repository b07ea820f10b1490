package engine

import (
	"strings"
	"testing"
)

func TestExpressionLoopNesting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr string
		ok   bool
	}{
		{`status == 200`, true},
		{`all(body.items, {# > 1})`, true},
		{`all(body.a, {# > 1}) && any(body.b, {# > 2}) && none(body.c, {true})`, true},
		{`all(body.items, {any(body.items, {# > 1})})`, false},
		{`len(filter(body.items, {len(map(body.items, {#})) > 0})) > 0`, false},
	} {
		_, err := compileExpression(tc.expr)
		if (err == nil) != tc.ok {
			t.Errorf("compile %q: ok=%v, err=%v", tc.expr, tc.ok, err)
		}
		if err != nil && !strings.Contains(err.Error(), "nest") {
			t.Errorf("compile %q: error should say loops may not nest: %v", tc.expr, err)
		}
	}
}
