package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// WorkerHeartbeat records that the worker process clientID (its River
// client id) is alive now, adding its row on first call.
func (s *Store) WorkerHeartbeat(ctx context.Context, clientID string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO flowd_workers (client_id) VALUES ($1)
		ON CONFLICT (client_id) DO UPDATE SET heartbeat_at = now()`, clientID)
	if err != nil {
		return fmt.Errorf("record heartbeat of %s: %w", clientID, err)
	}
	return nil
}

// WorkerStopped marks the process clientID dead at once (it stopped): a job
// it still holds is rescued by the next rescue round instead of after the
// rescue delay.
func (s *Store) WorkerStopped(ctx context.Context, clientID string) error {
	_, err := s.db.Exec(ctx, `UPDATE flowd_workers SET heartbeat_at = '-infinity' WHERE client_id = $1`, clientID)
	if err != nil {
		return fmt.Errorf("mark worker %s stopped: %w", clientID, err)
	}
	return nil
}

// WorkerDeleteDead deletes the rows of processes silent for longer than
// olderThan that hold no running job any more, and returns how many.
func (s *Store) WorkerDeleteDead(ctx context.Context, olderThan time.Duration) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM flowd_workers w
		WHERE w.heartbeat_at < now() - $1 * interval '1 second'
		  AND NOT EXISTS (SELECT 1 FROM river_job j
			WHERE j.state = 'running' AND j.attempted_by[cardinality(j.attempted_by)] = w.client_id)`,
		olderThan.Seconds())
	if err != nil {
		return 0, fmt.Errorf("delete dead workers: %w", err)
	}
	return tag.RowsAffected(), nil
}

// RescueParams says which running jobs JobRescueOrphans hands back.
type RescueParams struct {
	// Queue is the River queue to look at.
	Queue string
	// After is how long a process may stay silent before it is dead, and
	// how long a job may run without a known live process.
	After time.Duration
	// Self is the calling process's client id; its heartbeat is never
	// judged (it knows better), but its own running jobs that are not in
	// Running and started more than After ago are handed back too (River
	// forgot them, for example when recording their end failed).
	Self string
	// Running are the job ids the calling process is working on now.
	Running []int64
}

// RescuedJob is a job JobRescueOrphans handed back to the queue.
type RescuedJob struct {
	ID          int64
	ExecutionID uuid.UUID
	// Worker is the client id of the process that held it.
	Worker string
}

// JobRescueOrphans returns to `available` (scheduled now, attempt kept, a
// note in its errors and metadata) every `running` job of p.Queue whose
// last worker (the last element of attempted_by) is dead: its heartbeat is
// older than p.After, or it has no heartbeat row and the job started more
// than p.After ago. It does the same for jobs of p.Self that p.Self no
// longer runs (see RescueParams.Self). It is one UPDATE; rows another
// rescuer holds are skipped and a job already handed back is left alone, so
// concurrent rescuers do not fight.
func (s *Store) JobRescueOrphans(ctx context.Context, p RescueParams) ([]RescuedJob, error) {
	running := p.Running
	if running == nil {
		running = []int64{}
	}
	return queryAll(ctx, s.db, "rescue jobs of dead workers", scanRescuedJob, `UPDATE river_job j SET
			state = 'available',
			scheduled_at = now(),
			errors = array_append(j.errors, jsonb_build_object(
				'at', now(), 'attempt', j.attempt, 'trace', '',
				'error', format('flowd rescuer %s: %s; job handed back to the queue', $3::text, o.why))),
			metadata = j.metadata || jsonb_build_object('flowd_rescued_at', now(), 'flowd_rescued_from', o.worker)
		FROM (
			SELECT r.id, coalesce(r.attempted_by[cardinality(r.attempted_by)], '') AS worker,
				CASE
					WHEN r.attempted_by[cardinality(r.attempted_by)] = $3 THEN 'this process no longer runs the job'
					WHEN w.client_id IS NULL THEN format('worker %s has no heartbeat', r.attempted_by[cardinality(r.attempted_by)])
					ELSE format('worker %s is silent since %s', w.client_id, w.heartbeat_at)
				END AS why
			FROM river_job r
			LEFT JOIN flowd_workers w ON w.client_id = r.attempted_by[cardinality(r.attempted_by)]
			WHERE r.state = 'running' AND r.queue = $1
			  AND CASE
				WHEN r.attempted_by[cardinality(r.attempted_by)] = $3 THEN
					r.attempted_at < now() - $2 * interval '1 second' AND NOT (r.id = ANY($4::bigint[]))
				WHEN w.client_id IS NULL THEN
					r.attempted_at < now() - $2 * interval '1 second'
				ELSE
					w.heartbeat_at < now() - $2 * interval '1 second'
			  END
			FOR UPDATE OF r SKIP LOCKED
		) o
		WHERE j.id = o.id AND j.state = 'running'
		RETURNING j.id, coalesce(j.args->>'execution_id', ''), o.worker`,
		p.Queue, p.After.Seconds(), p.Self, running)
}

// scanRescuedJob scans a row JobRescueOrphans returns; a job whose args
// hold no execution id has uuid.Nil.
func scanRescuedJob(row pgx.Row) (j RescuedJob, err error) {
	var execID string
	if err := row.Scan(&j.ID, &execID, &j.Worker); err != nil {
		return j, err
	}
	j.ExecutionID, _ = uuid.Parse(execID)
	return j, nil
}
