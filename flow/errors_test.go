package flow

import (
	"testing"
)

func TestValidationErrorError(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		errs []FieldError
		want string
	}{
		{"none", nil, "invalid flow"},
		{"one", []FieldError{{"name", "is required"}}, "invalid flow: name: is required"},
		{"whole document", []FieldError{{"", "must be an object"}}, "invalid flow: must be an object"},
		{"two", []FieldError{{"name", "is required"}, {"steps", "at least one step is required"}}, "invalid flow: name: is required (and 1 more error)"},
		{"three", []FieldError{{"a", "x"}, {"b", "y"}, {"c", "z"}}, "invalid flow: a: x (and 2 more errors)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := (&ValidationError{Errors: tt.errs}).Error()
			if got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}
