// Package scheduler owns flowd's River client: the queue executions run on,
// enqueueing executions (triggers, operator retries) in the same
// transaction that writes them, cancelling them, and periodic work (cron
// flows, rescuing jobs of dead workers). It must not send HTTP requests or
// decide step outcomes (package engine does), nor hold SQL (package store).
package scheduler
