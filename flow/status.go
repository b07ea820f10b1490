package flow

// ExecutionEnded reports whether an execution status is final: success,
// failed or cancelled. An ended execution runs no more (until an operator
// retries it).
func ExecutionEnded(status string) bool {
	switch status {
	case ExecutionStatusSuccess, ExecutionStatusFailed, ExecutionStatusCancelled:
		return true
	}
	return false
}

// DeriveFlowStatus computes the status a flow shows from the status stored
// on it (scheduled, running, stopped or deleted: the states an operator or
// the API sets) and its executions:
//
//   - stopped and deleted always win;
//   - in-progress while any execution is scheduled or in progress;
//   - failed when the newest execution failed for good;
//   - running once any execution has finished otherwise (success or cancel);
//   - otherwise the stored status (scheduled until the first run, running
//     after a resume).
//
// Deriving it when read means no hot flow row is written per execution.
func DeriveFlowStatus(stored string, inFlight bool, newest *ExecutionSummary) string {
	switch stored {
	case FlowStatusStopped, FlowStatusDeleted:
		return stored
	}
	if inFlight {
		return FlowStatusInProgress
	}
	if newest != nil {
		switch newest.Status {
		case ExecutionStatusFailed:
			return FlowStatusFailed
		case ExecutionStatusSuccess, ExecutionStatusCancelled:
			return FlowStatusRunning
		case ExecutionStatusScheduled, ExecutionStatusInProgress:
			return FlowStatusInProgress
		}
	}
	return stored
}
