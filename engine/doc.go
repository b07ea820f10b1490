// Package engine holds flowd's domain: flows and their steps, the validation
// of a flow definition, the runnable snapshot of one flow version and its
// plan (which step waits for which), templating of step requests, success
// conditions, extraction of variables from responses, and retry decisions.
// The River worker that runs a step is added to this package later.
//
// The pure parts of the package (everything except the worker) import
// neither pgx nor net/http and are tested without a database: they take
// values in and give values back. They must not do I/O, read configuration
// or the clock on their own, or log. SQL lives only in package store; the
// HTTP API maps this package's errors to status codes (ErrMalformedJSON to
// 400, *ValidationError to 422).
package engine
