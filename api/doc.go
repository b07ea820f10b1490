// Package api is flowd's HTTP admin API under /v1 (flows, executions,
// triggers, operator actions), the public inbound hook endpoint, and the
// health endpoints. Every response uses the envelope
// {"status", "message", "data"}; errors map to HTTP status codes in one
// function, errorStatus, and every error answer names at least one field.
// api/openapi.json describes every route of routeTable, and the test
// suites check each request and answer against it: a new route or field
// goes into both (README "Adding a route or a field"). It must not hold SQL
// (package store) or run steps (package engine).
package api
