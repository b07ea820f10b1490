package redact

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReplaceAttr(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		attrs []any
		want  string
	}{
		{
			name:  "Kept",
			attrs: []any{"execution_id", "e-1", "step_number", 2},
			want:  `{"msg":"step sent","execution_id":"e-1","step_number":2}`,
		},
		{
			name:  "Masked",
			attrs: []any{"authorization", "Bearer x", "api_key", 1234, "flow_id", "f-1"},
			want:  `{"msg":"step sent","authorization":"[redacted]","api_key":"[redacted]","flow_id":"f-1"}`,
		},
		{
			name:  "InGroup",
			attrs: []any{slog.Group("request", "url", "https://a.example", "x-auth-token", "t")},
			want:  `{"msg":"step sent","request":{"url":"https://a.example","x-auth-token":"[redacted]"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var buf bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{
				ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
					if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
						return slog.Attr{}
					}
					return ReplaceAttr(groups, a)
				},
			}))
			logger.Info("step sent", tt.attrs...)
			if diff := cmp.Diff(tt.want+"\n", buf.String()); diff != "" {
				t.Errorf("log line mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
