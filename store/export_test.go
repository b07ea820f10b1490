package store

// ScheduleActive exposes the schedule loop's SQL predicate to the tests.
const ScheduleActive = scheduleActive

// ExecutionHoursQuery is the statement of ExecutionHoursByFlow, for the
// test that reads its plan.
const ExecutionHoursQuery = executionHoursQuery

// EventSubscribersQuery is the statement of EventSubscribers, for the test
// that reads its plan.
const EventSubscribersQuery = eventSubscribersQuery
