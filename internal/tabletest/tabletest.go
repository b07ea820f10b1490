// Package tabletest runs the table tests of functions: each case in a
// parallel subtest, the result compared with cmp.Diff and reported as
// "(-want +got)". It is for tests only, and holds no assertions of its own
// beyond Want and Err.
package tabletest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Case is one case of a table test: an input and what the function must
// make of it.
type Case[In, Out any] struct {
	// Name names the subtest; "" names it after In.
	Name string
	In   In
	Want Out
	// Err, for FuncErr, is a substring of the error the case must return;
	// "" means no error (and Want is then compared).
	Err string
}

func (c *Case[In, Out]) name() string {
	if c.Name != "" {
		return c.Name
	}
	return fmt.Sprint(c.In)
}

// Func runs f on each case's input in a parallel subtest and reports a
// result other than Want. what names f in the reports.
func Func[In, Out any](t *testing.T, what string, f func(In) Out, cases []Case[In, Out], opts ...cmp.Option) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name(), func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(c.Want, f(c.In), opts...); diff != "" {
				t.Errorf("%s(%v) (-want +got):\n%s", what, c.In, diff)
			}
		})
	}
}

// FuncErr is Func for a function that may fail: a case with Err wants an
// error containing it, a case without wants no error and Want.
func FuncErr[In, Out any](t *testing.T, what string, f func(In) (Out, error), cases []Case[In, Out], opts ...cmp.Option) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name(), func(t *testing.T) {
			t.Parallel()
			got, err := f(c.In)
			switch {
			case c.Err != "" && (err == nil || !strings.Contains(err.Error(), c.Err)):
				t.Fatalf("%s(%v) error %v, want one containing %q", what, c.In, err, c.Err)
			case c.Err != "":
			case err != nil:
				t.Fatalf("%s(%v): %v", what, c.In, err)
			default:
				if diff := cmp.Diff(c.Want, got, opts...); diff != "" {
					t.Errorf("%s(%v) (-want +got):\n%s", what, c.In, diff)
				}
			}
		})
	}
}
