// Package groupcommit batches the writes of concurrent callers into shared
// transactions: each caller queues an item and (optionally) waits; one
// goroutine per shard hands whatever has queued up to a write function
// that runs it as one transaction, and answers every waiting caller with
// its result once that transaction has ended.
//
// It is the shape of flowd's group commits (the engine's finished steps,
// the scheduler's triggers and published events) and of the engine's group
// read of the executions whose runs begin (a "write" that reads and
// answers each item). It knows nothing about SQL or PostgreSQL; the write
// function does the work.
package groupcommit
