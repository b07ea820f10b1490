// Package e2e holds flowd's crash, restart, shutdown and scale-out tests:
// they build the flowd binary once, run `flowd worker` as separate
// operating-system processes against real PostgreSQL databases (their own,
// or a throwaway cluster that a test restarts), kill, signal and restart
// them, and check from the records that nothing accepted was lost or
// completed twice. It holds tests only; nothing imports it. The tests are
// slow (about two minutes together) and are skipped with -short.
package e2e
