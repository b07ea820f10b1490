// Package web serves flowd's operator pages: a small server-rendered view
// of a company's flows and executions (html/template, embedded templates,
// no JavaScript) under /ui/, and River's own UI under /riverui/ behind the
// operator token.
//
// The pages carry pictures drawn on the server as inline SVG: the step
// graph (layout.go lays it out, a pure function; graph.go paints it), the
// last 24 hours of a flow and the index's success rates (charts.go). They
// must stay free of script and external assets, so that the
// Content-Security-Policy never has to allow either.
//
// The execution view is tenant-scoped: it signs in with HTTP Basic auth
// whose password is a flowd API token (checked by package auth, exactly
// like the API's Bearer tokens), and it shows only that token's
// company (another company's flow or execution is a 404). It only reads:
// it must not change flows or executions, and it must not show anything the
// API would not show the same token (request and response records are
// already redacted in the store). River's UI sees every company's jobs and
// can cancel, retry and delete them, so it is for operators only and never
// accepts an API token.
package web
