package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"

	"github.com/flowd/flowd/store"
)

// runAudit handles `flowd audit`: the company's audit trail (GET
// /v1/audit), newest first.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := &cliCommand{
		name:    "audit",
		summary: "Lists the audit trail of the token's company, newest first (GET /v1/audit):\nwho changed which flow, token or execution, and what changed.",
		details: "When there are more, the --cursor of the next page is printed on stderr.\nThe actor is the token id and its user; \"cli\" for changes made with flowd token.",
		examples: []string{
			"flowd audit",
			"flowd audit --target 0b7c… --limit 10",
		},
	}
	e, o := cmd.flags(stdout, stderr)
	limit := e.fs.Int("limit", 50, "page size, 1 to 200")
	cursor := e.fs.String("cursor", "", "the next page's cursor, as printed by the previous page")
	target := e.fs.String("target", "", "only entries about this flow, token or execution id")
	_, c, err := parseArgs(e, o, args, 0)
	if err != nil {
		return err
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	if *cursor != "" {
		q.Set("cursor", *cursor)
	}
	if *target != "" {
		q.Set("target_id", *target)
	}
	var list []store.AuditEntry
	a, err := c.get(ctx, "/v1/audit", q, &list)
	if err != nil {
		return err
	}
	if a.NextCursor != nil {
		defer fmt.Fprintf(stderr, "more entries: add --cursor %s\n", *a.NextCursor)
	}
	if o.json {
		return printJSON(stdout, a.Data)
	}
	tw := newTable(stdout)
	fmt.Fprintln(tw, "AT\tACTION\tTARGET\tACTOR\tSUMMARY")
	for _, x := range list {
		actor := "cli"
		if x.ActorTokenID != nil {
			actor = "token " + x.ActorTokenID.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\n", timeText(&x.At), x.Action, x.TargetType, x.TargetID, actor, cell(x.Summary, 100))
	}
	return tw.Flush()
}
