package store

// ScheduleActive exposes the schedule loop's SQL predicate to the tests.
const ScheduleActive = scheduleActive
