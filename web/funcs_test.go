package web

import (
	"testing"

	"github.com/flowd/flowd/internal/tabletest"
)

func TestCountOf(t *testing.T) {
	type in struct {
		n    int
		unit string
	}
	tabletest.Func(t, "countOf", func(x in) string { return countOf(x.n, x.unit) }, []tabletest.Case[in, string]{
		{In: in{1, "seconds"}, Want: "1 second"},
		{In: in{0, "minutes"}, Want: "0 minutes"},
		{In: in{5, "hours"}, Want: "5 hours"},
		{In: in{1, "days"}, Want: "1 day"},
	})
}
