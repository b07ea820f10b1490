package engine

import (
	"errors"
	"fmt"
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
