package flow

import (
	"testing"

	"github.com/flowd/flowd/internal/tabletest"
)

func TestExecutionEnded(t *testing.T) {
	t.Parallel()
	tabletest.Func(t, "ExecutionEnded", ExecutionEnded, []tabletest.Case[string, bool]{
		{In: ExecutionStatusScheduled, Want: false},
		{In: ExecutionStatusInProgress, Want: false},
		{In: ExecutionStatusSuccess, Want: true},
		{In: ExecutionStatusFailed, Want: true},
		{In: ExecutionStatusCancelled, Want: true},
		{In: "", Want: false},
	})
}
