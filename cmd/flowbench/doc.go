// Command flowbench measures flowd: executions and steps per second, latency,
// CPU, memory and SQL statements per step, next to the ceilings of bare River
// and bare HTTP measured in the same run on the same PostgreSQL.
//
// It is run by `make bench` (BENCHFLAGS are its flags). It creates its own
// database on the server named by DATABASE_URL (flowd_bench_<pid>), applies
// the migrations, runs flowd in this process exactly as `flowd serve` wires
// it (store, engine.Worker, scheduler.Scheduler, api.Server on a loopback
// listener), and drops the database at the end (-keep keeps it).
//
// The HTTP target that the steps call, and the API client that triggers
// executions through POST /v1/webhooks/{id}/trigger, run in a child process
// (this same binary started with FLOWBENCH_ROLE=load), so that the CPU time
// of this process is flowd's own. The child reports every request it
// receives (execution id, step, arrival time) on its standard output.
//
// Executions are driven in a closed loop: at most -inflight executions are
// triggered and not yet finished at any time (an execution counts as
// finished when its last step reaches the target), which keeps flowd
// saturated without an ever-growing backlog, so the middle 80% of the run is
// a true steady state.
//
// flowbench is a measuring tool: it must not change flowd's behaviour, only
// configure it through the same knobs `flowd serve` has. It writes to no
// database other than the one it creates (or the one it is given in tests).
package main
