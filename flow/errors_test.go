package flow

import (
	"testing"

	"github.com/flowd/flowd/internal/tabletest"
)

func TestValidationErrorError(t *testing.T) {
	t.Parallel()

	errorOf := func(errs []FieldError) string { return (&ValidationError{Errors: errs}).Error() }
	tabletest.Func(t, "ValidationError.Error", errorOf, []tabletest.Case[[]FieldError, string]{
		{Name: "none", In: nil, Want: "invalid flow"},
		{Name: "one", In: []FieldError{{"name", "is required"}}, Want: "invalid flow: name: is required"},
		{Name: "whole document", In: []FieldError{{"", "must be an object"}}, Want: "invalid flow: must be an object"},
		{Name: "two", In: []FieldError{{"name", "is required"}, {"steps", "at least one step is required"}}, Want: "invalid flow: name: is required (and 1 more error)"},
		{Name: "three", In: []FieldError{{"a", "x"}, {"b", "y"}, {"c", "z"}}, Want: "invalid flow: a: x (and 2 more errors)"},
	})
}
