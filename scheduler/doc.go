// Package scheduler owns flowd's River client: the queue executions run on,
// enqueueing executions (triggers, operator retries) in the same
// transaction that writes them, cancelling them, and periodic work (cron
// flows, rescuing jobs of dead workers). It must not send HTTP requests
// (package engine does), decide what may be triggered or retried, or what
// an outcome leads to (package flow does), nor hold SQL (package store).
package scheduler
