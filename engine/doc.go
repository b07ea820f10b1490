// Package engine is flowd's runner: the River worker that runs one
// execution, the sending of one step attempt over HTTP (through the
// SSRF-guarded client), the group read that loads the executions of the
// runs that begin together in one statement (read.go), and the group
// committer that records many executions' attempts in one transaction
// (commit.go).
//
// It decides nothing about flows itself: which steps are ready, what a
// failed attempt leads to and when an execution retries or ends are the
// pure functions of flow/machine.go (tested in flow/machine_test.go);
// the run (worker.go) asks them, sends what they say, checkpoints every
// new state and returns River's result (nil, JobSnooze or JobCancel). SQL
// lives only in package store.
package engine
