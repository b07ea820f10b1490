package store

// ExecutionHoursQuery is the statement of ExecutionHoursByFlow, for the
// test that reads its plan.
const ExecutionHoursQuery = executionHoursQuery
