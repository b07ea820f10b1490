// Package flow is flowd's domain: flows and their steps, the validation of
// a flow definition, the runnable snapshot of one flow version and its plan
// (which step waits for which), templating of step requests and the
// variables an attempt sees (scope.go), success conditions, extraction of
// variables and records from responses, Standard Webhooks signatures, the
// execution state machine (machine.go: which steps are ready, what an
// attempt's outcome leads to, when an execution retries or ends) and the
// rules of what may be done to a flow or an execution (rules.go).
//
// Everything here is pure: it takes values in and gives values back. It
// must not import river, pgx, net/http or netguard (TestDomainImports
// enforces it), do I/O, read configuration or the clock on its own (the
// time is an argument), or log. The runner (package engine) sends what
// this package decides, the store persists it, and the HTTP API maps this
// package's errors to status codes (ErrMalformedJSON to 400,
// *ValidationError to 422, ErrConflict to 409).
package flow
