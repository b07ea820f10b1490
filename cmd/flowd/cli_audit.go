package main

import (
	"context"
	"fmt"
	"io"

	"github.com/flowd/flowd/store"
)

// runAudit handles `flowd audit`: the company's audit trail (GET
// /v1/audit), newest first.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := &cliCommand{
		name:    "audit",
		summary: "Lists the audit trail of the token's company, newest first (GET /v1/audit):\nwho changed which flow, token or execution, and what changed.",
		details: "The actor is the token id and its user; \"cli\" for changes made with flowd token.",
		examples: []string{
			"flowd audit",
			"flowd audit --target 0b7c… --limit 10",
		},
	}
	return showList(ctx, cmd, args, stdout, stderr, &listing[store.AuditEntry]{
		path:    func([]string) string { return "/v1/audit" },
		filters: []listFilter{{"target", "target_id", "", "only entries about this flow, token or execution id"}},
		page:    50,
		what:    "entries",
		header:  "AT\tACTION\tTARGET\tACTOR\tSUMMARY",
		row: func(w io.Writer, x *store.AuditEntry) {
			actor := "cli"
			if x.ActorTokenID != nil {
				actor = "token " + x.ActorTokenID.String()
			}
			fmt.Fprintf(w, "%s\t%s\t%s %s\t%s\t%s\n", timeText(&x.At), x.Action, x.TargetType, x.TargetID, actor, cell(x.Summary, 100))
		},
	})
}
