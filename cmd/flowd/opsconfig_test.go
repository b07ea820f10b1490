package main

import (
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestOperatorConfig covers the operators' settings: tokens come from the
// environment only, a short operator token is refused, and the metrics
// listener is a worker flag.
func TestOperatorConfig(t *testing.T) {
	setEnv(t, "DATABASE_URL", "postgres://u:pw@localhost/db", "FLOWD_METRICS_TOKEN", "scrape-me",
		"FLOWD_OPERATOR_TOKEN", "op-0123456789abcdef", "FLOWD_METRICS_ADDR", "")
	c := mustParse(t, "serve")
	type ops struct{ MetricsAddr, MetricsToken, OperatorToken string }
	if d := cmp.Diff(ops{"", "scrape-me", "op-0123456789abcdef"}, ops{c.MetricsAddr, c.MetricsToken, c.OperatorToken}); d != "" {
		t.Errorf("serve (-want +got):\n%s", d)
	}
	for _, a := range c.logAttrs() {
		if s, ok := a.(string); ok && (strings.Contains(s, "scrape-me") || strings.Contains(s, "op-0123")) {
			t.Errorf("logAttrs shows a token: %v", c.logAttrs())
		}
	}

	c = mustParse(t, "worker", "--metrics-addr", "127.0.0.1:9090")
	if d := cmp.Diff(ops{"127.0.0.1:9090", "scrape-me", ""}, ops{c.MetricsAddr, c.MetricsToken, c.OperatorToken}); d != "" {
		t.Errorf("worker (-want +got):\n%s", d)
	}
	if _, err := parseConfig("serve", []string{"--metrics-addr", ":9090"}, io.Discard, true); err == nil {
		t.Error("serve accepted --metrics-addr (metrics are on the API listener)")
	}

	t.Setenv("FLOWD_OPERATOR_TOKEN", "short")
	if _, err := parseConfig("serve", nil, io.Discard, true); err == nil || !strings.Contains(err.Error(), "FLOWD_OPERATOR_TOKEN must have at least 16 characters") {
		t.Errorf("short operator token: %v", err)
	}
}
