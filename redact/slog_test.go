package redact

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/flowd/flowd/internal/tabletest"
)

func TestReplaceAttr(t *testing.T) {
	t.Parallel()

	logLine := func(attrs []any) string {
		var buf bytes.Buffer
		logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{
			ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
				if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
					return slog.Attr{}
				}
				return ReplaceAttr(groups, a)
			},
		}))
		logger.Info("step sent", attrs...)
		return strings.TrimSuffix(buf.String(), "\n")
	}
	tabletest.Func(t, "log line", logLine, []tabletest.Case[[]any, string]{
		{
			Name: "Kept",
			In:   []any{"execution_id", "e-1", "step_number", 2},
			Want: `{"msg":"step sent","execution_id":"e-1","step_number":2}`,
		},
		{
			Name: "Masked",
			In:   []any{"authorization", "Bearer x", "api_key", 1234, "flow_id", "f-1"},
			Want: `{"msg":"step sent","authorization":"[redacted]","api_key":"[redacted]","flow_id":"f-1"}`,
		},
		{
			Name: "InGroup",
			In:   []any{slog.Group("request", "url", "https://a.example", "x-auth-token", "t")},
			Want: `{"msg":"step sent","request":{"url":"https://a.example","x-auth-token":"[redacted]"}}`,
		},
	})
}
