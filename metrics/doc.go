// Package metrics exposes flowd's Prometheus metrics: the worker's events
// (through the engine.Observer interface), the API's requests by route
// pattern, and the Go runtime and process collectors, all on a dedicated
// registry served by Handler.
//
// It must not label anything with an unbounded value: no flow or execution
// ids, no flow names, no URLs. Labels are small fixed sets (statuses,
// outcomes, status classes, retry kinds) or registered route patterns.
package metrics
