// Package flow is flowd's domain: flows and their steps, the validation of
// a flow definition, the runnable snapshot of one flow version and its plan
// (which step waits for which), templating of step requests, success
// conditions, extraction of variables from responses, Standard Webhooks
// signatures, and the execution state machine (what happens after each
// attempt).
//
// Everything here is pure: it takes values in and gives values back. It
// must not import river, pgx, net/http or netguard (TestDomainImports
// enforces it), do I/O, read configuration or the clock on its own, or log.
// The runner (package engine) sends what this package decides, the store
// persists it, and the HTTP API maps this package's errors to status codes
// (ErrMalformedJSON to 400, *ValidationError to 422).
package flow
