package flow

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/vm/runtime"
)

// The expression sandbox.
//
// expr-lang's own limits are the node count of an expression (MaxNodes)
// and the VM's MemoryBudget, which counts the elements of ranges, array and
// map literals and sorted arrays. They do not count the bytes of strings,
// the work of operators and builtins over large values, nor iterations of
// predicates over arrays that already exist, so that on its own
//
//	let a = body + body; let b = a + a; ... len(z) > 0
//	count(body.items, count(body.items, # == 0) > 0) > 0
//	toJSON(let a = [b, b]; let c = [a, a]; ...)
//
// would allocate gigabytes or run for hours. The sandbox closes the gap
// with a cost budget per evaluation (exprCostBudget units). At compile time
// a patcher reroutes every operation whose cost depends on the size of its
// operands through functions that charge the budget before doing the work:
//
//   - predicates (all, any, none, one, map, filter, find*, count, sum,
//     groupBy, sortBy, reduce) pay the length of their collection each time
//     they run, so nested loops pay the product;
//   - the operators +, ==, != (unless both sides are numbers or booleans),
//     in, contains, startsWith, endsWith and matches pay the size of their
//     operands;
//   - builtins that build or scan strings and collections (string, toJSON,
//     fromJSON, upper, lower, trim*, replace, split*, join, concat, flatten,
//     keys, values, toPairs, fromPairs, uniq, reverse, take, sort, max,
//     min, mean, median, indexOf, lastIndexOf, toBase64, fromBase64) pay
//     the size of their arguments and of their result (replace pays the
//     size of its result before building it).
//
// A string costs 1 unit per 16 bytes (plus 1), a collection 1 per element
// (plus 1), anything else 1. Values that deep operations walk (==, !=, in,
// string, toJSON, flatten, uniq) are charged as the trees they expand to,
// by a walk that stops when the budget runs out, so that a value shared
// many times is charged for what the operation would really do and
// measuring it is bounded too. An evaluation that runs out fails the step
// attempt with "the expression does too much work".

// exprCostBudget is the cost units one evaluation of a condition may use:
// about 60 MiB of strings scanned or built, or 4 million iterations.
const exprCostBudget = 4_000_000

// Names the patcher uses; an expression cannot name them itself (they are
// not in the environment it is first compiled against).
const (
	exprBudgetName = "_flowd_budget"
	exprIterName   = "_flowd_iter"
	exprOpName     = "_flowd_op"
	exprCallName   = "_flowd_call"
)

// errExprBudget is the error of an evaluation that ran out of budget.
var errExprBudget = fmt.Errorf("the expression does too much work (more than %d cost units: "+
	"strings, collections or loops too large)", exprCostBudget)

// exprBudget is the cost budget left to one evaluation.
type exprBudget struct{ left int64 }

func newExprBudget() *exprBudget { return &exprBudget{left: exprCostBudget} }

func (b *exprBudget) charge(n int64) error {
	b.left -= n
	if b.left < 0 {
		return errExprBudget
	}
	return nil
}

func stringCost(n int) int64 { return int64(n)/16 + 1 }

// shallowCost is the cost of a value without its nested values.
func shallowCost(v any) int64 {
	switch x := v.(type) {
	case nil:
		return 1
	case string:
		return stringCost(len(x))
	case []any:
		return int64(len(x)) + 1
	case map[string]any:
		return int64(len(x)) + 1
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return stringCost(rv.Len())
	case reflect.Slice, reflect.Array, reflect.Map:
		return int64(rv.Len()) + 1
	}
	return 1
}

// chargeDeep charges v as the tree it expands to, stopping as soon as the
// budget runs out.
func (b *exprBudget) chargeDeep(v any) error {
	switch x := v.(type) {
	case nil, bool, int, int64, float64:
		return b.charge(1)
	case string:
		return b.charge(stringCost(len(x)))
	case []any:
		if err := b.charge(int64(len(x)) + 1); err != nil {
			return err
		}
		for _, e := range x {
			if err := b.chargeDeep(e); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		if err := b.charge(int64(len(x)) + 1); err != nil {
			return err
		}
		for k, e := range x {
			if err := b.charge(stringCost(len(k))); err != nil {
				return err
			}
			if err := b.chargeDeep(e); err != nil {
				return err
			}
		}
		return nil
	}
	return b.chargeDeepReflect(reflect.ValueOf(v))
}

func (b *exprBudget) chargeDeepReflect(rv reflect.Value) error {
	switch rv.Kind() {
	case reflect.Interface, reflect.Pointer:
		if rv.IsNil() {
			return b.charge(1)
		}
		return b.chargeDeepReflect(rv.Elem())
	case reflect.String:
		return b.charge(stringCost(rv.Len()))
	case reflect.Slice, reflect.Array:
		if err := b.charge(int64(rv.Len()) + 1); err != nil {
			return err
		}
		for i := range rv.Len() {
			if err := b.chargeDeepReflect(rv.Index(i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		if err := b.charge(int64(rv.Len()) + 1); err != nil {
			return err
		}
		it := rv.MapRange()
		for it.Next() {
			if err := b.chargeDeepReflect(it.Key()); err != nil {
				return err
			}
			if err := b.chargeDeepReflect(it.Value()); err != nil {
				return err
			}
		}
		return nil
	case reflect.Struct:
		return b.charge(int64(rv.NumField()) + 1)
	}
	return b.charge(1)
}

// Predicates whose collection (first argument) is charged.
var predicateBuiltins = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true,
	"find": true, "findIndex": true, "findLast": true, "findLastIndex": true,
	"count": true, "sum": true, "groupBy": true, "sortBy": true, "reduce": true,
}

// meteredBuiltins are the builtins called through the budget; true marks
// those that walk their arguments deeply.
var meteredBuiltins = map[string]bool{
	"string": true, "toJSON": true, "flatten": true, "uniq": true, "join": true,
	"fromJSON": false, "upper": false, "lower": false, "trim": false, "trimPrefix": false,
	"trimSuffix": false, "replace": false, "split": false, "splitAfter": false,
	"concat": false, "keys": false, "values": false, "toPairs": false, "fromPairs": false,
	"reverse": false, "take": false, "sort": false, "max": false, "min": false, "mean": false,
	"median": false, "indexOf": false, "lastIndexOf": false, "toBase64": false, "fromBase64": false,
}

// Operators always charged, and operators charged unless both operands
// are numbers or booleans.
var (
	meteredOps       = map[string]bool{"in": true, "contains": true, "startsWith": true, "endsWith": true, "matches": true}
	meteredNonScalar = map[string]bool{"+": true, "==": true, "!=": true}
)

var builtinByName = func() map[string]*builtin.Function {
	m := make(map[string]*builtin.Function, len(builtin.Builtins))
	for _, f := range builtin.Builtins {
		m[f.Name] = f
	}
	return m
}()

// sandboxPatcher reroutes costly operations through the budget (see the
// comment at the top of this file).
type sandboxPatcher struct{}

func ident(name string) *ast.IdentifierNode { return &ast.IdentifierNode{Value: name} }

func scalarType(t reflect.Type) bool {
	if t == nil {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// Visit implements ast.Visitor.
func (sandboxPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		if meteredOps[n.Operator] || meteredNonScalar[n.Operator] && !(scalarType(n.Left.Type()) && scalarType(n.Right.Type())) {
			ast.Patch(node, &ast.CallNode{Callee: ident(exprOpName), Arguments: []ast.Node{
				ident(exprBudgetName), &ast.StringNode{Value: n.Operator}, n.Left, n.Right,
			}})
		}
	case *ast.BuiltinNode:
		if predicateBuiltins[n.Name] && len(n.Arguments) > 0 {
			coll := n.Arguments[0]
			call := &ast.CallNode{Callee: ident(exprIterName), Arguments: []ast.Node{ident(exprBudgetName), coll}}
			call.SetLocation(coll.Location())
			n.Arguments[0] = call
			return
		}
		if _, ok := meteredBuiltins[n.Name]; ok {
			args := append([]ast.Node{ident(exprBudgetName), &ast.StringNode{Value: n.Name}}, n.Arguments...)
			ast.Patch(node, &ast.CallNode{Callee: ident(exprCallName), Arguments: args})
		}
	}
}

// sandboxOptions are the compile options of the patched program.
func sandboxOptions() []expr.Option {
	return []expr.Option{
		expr.Patch(sandboxPatcher{}),
		expr.Function(exprIterName, func(p ...any) (any, error) {
			if err := budgetArg(p).charge(shallowCost(p[1])); err != nil {
				return nil, err
			}
			return p[1], nil
		}),
		expr.Function(exprOpName, func(p ...any) (any, error) {
			return meteredOp(budgetArg(p), p[1].(string), p[2], p[3])
		}),
		expr.Function(exprCallName, func(p ...any) (any, error) {
			return meteredCall(budgetArg(p), p[1].(string), p[2:])
		}),
	}
}

func budgetArg(p []any) *exprBudget {
	b, _ := p[0].(*exprBudget)
	if b == nil {
		panic("expression sandbox: no budget") // recovered by Evaluate
	}
	return b
}

func meteredOp(b *exprBudget, op string, x, y any) (any, error) {
	switch op {
	case "+":
		if err := b.charge(shallowCost(x) + shallowCost(y)); err != nil {
			return nil, err
		}
		return runtime.Add(x, y), nil
	case "==", "!=":
		if err := b.chargeDeep(x); err != nil {
			return nil, err
		}
		if err := b.chargeDeep(y); err != nil {
			return nil, err
		}
		eq := runtime.Equal(x, y)
		return eq == (op == "=="), nil
	case "in":
		if err := b.chargeDeep(x); err != nil {
			return nil, err
		}
		if err := b.chargeDeep(y); err != nil {
			return nil, err
		}
		return runtime.In(x, y), nil
	}
	if runtime.IsNil(x) || runtime.IsNil(y) {
		return false, nil
	}
	s, ok1 := x.(string)
	t, ok2 := y.(string)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("operator %s needs two strings, not %T and %T", op, x, y)
	}
	if err := b.charge(stringCost(len(s)) + stringCost(len(t))); err != nil {
		return nil, err
	}
	switch op {
	case "contains":
		return strings.Contains(s, t), nil
	case "startsWith":
		return strings.HasPrefix(s, t), nil
	case "endsWith":
		return strings.HasSuffix(s, t), nil
	case "matches":
		re, err := regexp.Compile(t)
		if err != nil {
			return nil, fmt.Errorf("matches: %w", err)
		}
		return re.MatchString(s), nil
	}
	return nil, fmt.Errorf("operator %s is not supported", op)
}

func meteredCall(b *exprBudget, name string, args []any) (any, error) {
	f := builtinByName[name]
	if f == nil {
		return nil, fmt.Errorf("unknown function %s", name)
	}
	deep := meteredBuiltins[name]
	for _, a := range args {
		var err error
		if deep {
			err = b.chargeDeep(a)
		} else {
			err = b.charge(shallowCost(a))
		}
		if err != nil {
			return nil, err
		}
	}
	if name == "replace" && len(args) >= 3 {
		s, ok1 := args[0].(string)
		old, ok2 := args[1].(string)
		repl, ok3 := args[2].(string)
		if ok1 && ok2 && ok3 && len(repl) > len(old) {
			grow := int64(strings.Count(s, old)) * int64(len(repl)-len(old))
			if err := b.charge(grow/16 + 1); err != nil {
				return nil, err
			}
		}
	}
	var out any
	var err error
	switch {
	case f.Safe != nil:
		var mem uint
		out, mem, err = f.Safe(args...)
		if err == nil {
			err = b.charge(int64(mem))
		}
	case f.Fast != nil && len(args) == 1:
		out = f.Fast(args[0])
	case f.Func != nil:
		out, err = f.Func(args...)
	default:
		err = errors.New("cannot be called here")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := b.chargeDeep(out); err != nil {
		return nil, err
	}
	return out, nil
}
