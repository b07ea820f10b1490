// Package api is flowd's HTTP admin API under /v1 (flows, executions,
// triggers, operator actions), the public inbound hook endpoint, and the
// health endpoints. Every response uses the envelope
// {"status", "message", "data"}; errors map to HTTP status codes in one
// function, errorStatus. It must not hold SQL (package store) or run
// steps (package engine).
package api
