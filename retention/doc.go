// Package retention deletes what flowd no longer has to keep (README "Data
// lifecycle"): finished executions with their step attempts once past
// FLOWD_RETENTION, events once past it with none of their executions left,
// soft-deleted flows once past it with no execution left, and tokens
// revoked or expired before it. River's finished jobs are left to River's own job
// cleaner, whose retention periods are capped by the same setting
// (scheduler.Config.JobRetention).
//
// A Pruner runs a cycle every FLOWD_PRUNE_INTERVAL in every serve and
// worker process, and `flowd prune` runs one on demand; a cycle holds a
// PostgreSQL advisory lock on a session of its own, so one pruner at a
// time prunes whatever the number of processes, and a pruner that dies
// releases the lock with its connection. A scheduled cycle only deletes;
// the VACUUM of what it deleted runs after it on a session of its own, so
// that a long throttled VACUUM does not hold up the next cycle. The SQL
// lives in package store
// (store.PruneSteps); this package decides when and how much.
package retention
