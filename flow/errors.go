package flow

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrMalformedJSON is wrapped by the error DecodeFlow returns for a body that
// is not JSON or not a JSON object. The API answers it with 400.
var ErrMalformedJSON = errors.New("malformed JSON")

// FieldError is one problem with one field of an input document. Field is a
// path such as "steps[1].webhook_method" or
// "steps[0].success_condition.expression"; it is empty when the problem is
// with the document as a whole.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError is the error of an input that is well-formed JSON but
// breaks one or more rules. Errors holds every problem found, sorted by
// field. The API answers it with 422.
type ValidationError struct {
	Errors []FieldError
}

// Error summarises the problems: the first one, and how many more there are.
func (e *ValidationError) Error() string {
	if len(e.Errors) == 0 {
		return "invalid flow"
	}
	var b strings.Builder
	b.WriteString("invalid flow: ")
	first := e.Errors[0]
	if first.Field != "" {
		b.WriteString(first.Field)
		b.WriteString(": ")
	}
	b.WriteString(first.Message)
	switch n := len(e.Errors) - 1; n {
	case 0:
	case 1:
		b.WriteString(" (and 1 more error)")
	default:
		fmt.Fprintf(&b, " (and %d more errors)", n)
	}
	return b.String()
}

// sortFieldErrors sorts errors by field, numbers inside paths by value
// ("steps[2]" before "steps[10]"), keeping the order of errors on the same
// field.
func sortFieldErrors(errs []FieldError) {
	sort.SliceStable(errs, func(i, j int) bool { return naturalLess(errs[i].Field, errs[j].Field) })
}

// naturalLess compares strings with runs of digits compared by value.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		ad, bd := isDigit(a[0]), isDigit(b[0])
		if ad && bd {
			na, ra := digitRun(a)
			nb, rb := digitRun(b)
			na2, nb2 := strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if len(na2) != len(nb2) {
				return len(na2) < len(nb2)
			}
			if na2 != nb2 {
				return na2 < nb2
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// digitRun splits s after its leading run of digits.
func digitRun(s string) (run, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}
