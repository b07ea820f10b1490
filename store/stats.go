package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ExecutionHour is what the executions of one flow created in one hour
// came to: how many ended in each outcome, how many are still in flight,
// and how long the finished ones took.
type ExecutionHour struct {
	FlowID uuid.UUID
	// Hour is the start of the hour (counted from the since of the query).
	Hour      time.Time
	Success   int
	Failed    int
	Cancelled int
	// InFlight counts the executions still scheduled or in progress.
	InFlight int
	// P50 and P95 are percentiles of trigger to done (finished_at -
	// created_at) over the hour's executions that ended in success or
	// failed; zero when none did.
	P50, P95 time.Duration
}

// executionHoursQuery groups executions by flow and hour of created_at,
// one hour from $3 on. The range condition on (flow_id, created_at) is
// served by executions_flow_created_idx, so the cost follows the number of
// executions in the window, never the length of the history.
const executionHoursQuery = `SELECT e.flow_id, date_bin('1 hour', e.created_at, $3::timestamptz) AS hour,
	count(*) FILTER (WHERE e.status = 'success'),
	count(*) FILTER (WHERE e.status = 'failed'),
	count(*) FILTER (WHERE e.status = 'cancelled'),
	count(*) FILTER (WHERE e.status IN ('scheduled', 'in_progress')),
	percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM e.finished_at - e.created_at))
		FILTER (WHERE e.status IN ('success', 'failed') AND e.finished_at IS NOT NULL),
	percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM e.finished_at - e.created_at))
		FILTER (WHERE e.status IN ('success', 'failed') AND e.finished_at IS NOT NULL)
FROM executions e
WHERE e.flow_id = ANY($2::uuid[]) AND e.company_id = $1 AND e.created_at >= $3::timestamptz
GROUP BY e.flow_id, hour
ORDER BY e.flow_id, hour`

// ExecutionHoursByFlow returns, for the company's flows among flowIDs,
// their executions created since since grouped by flow and hour (hours
// start at since, since+1h, ...), in flow then hour order. Hours without
// executions are absent. One query whatever the number of flows; another
// company's flow contributes nothing.
func (s *Store) ExecutionHoursByFlow(ctx context.Context, companyID uuid.UUID, flowIDs []uuid.UUID, since time.Time) ([]ExecutionHour, error) {
	if err := requireCompany("count executions by hour", companyID); err != nil {
		return nil, err
	}
	if len(flowIDs) == 0 {
		return nil, nil
	}
	return queryAll(ctx, s.db, "count executions by hour", scanExecutionHour, executionHoursQuery, companyID, flowIDs, since)
}

func scanExecutionHour(row pgx.Row) (ExecutionHour, error) {
	var h ExecutionHour
	var p50, p95 *float64
	err := row.Scan(&h.FlowID, &h.Hour, &h.Success, &h.Failed, &h.Cancelled, &h.InFlight, &p50, &p95)
	h.P50, h.P95 = seconds(p50), seconds(p95)
	return h, err
}

// seconds converts a nullable number of seconds to a duration (0 for NULL).
func seconds(s *float64) time.Duration {
	if s == nil {
		return 0
	}
	return time.Duration(*s * float64(time.Second)).Round(time.Microsecond)
}
