package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// scheduleActive selects the flows whose schedule runs: a schedule set, not
// deleted, not stopped, not a template. It is flow.CheckTrigger in SQL
// (TestScheduleActiveIsTheTriggerRule checks that they agree), written out
// to match the predicate of flows_schedule_due_idx
// (migrations/002_schedules.up.sql) so both schedule queries read that
// index only.
const scheduleActive = `schedule IS NOT NULL AND deleted_at IS NULL AND status <> 'stopped' AND NOT is_template`

// ScheduleUnarmed is an active scheduled flow whose next slot is not
// computed yet: it was created, its schedule was edited or it was resumed
// since the schedule loop last looked.
type ScheduleUnarmed struct {
	FlowID   uuid.UUID
	Schedule string
	// ArmedAt is the instant after which the flow's slots count.
	ArmedAt time.Time
}

// ScheduleListUnarmed returns up to limit active scheduled flows that have
// no next slot yet.
func (s *Store) ScheduleListUnarmed(ctx context.Context, limit int) ([]ScheduleUnarmed, error) {
	return queryAll(ctx, s.db, "list unarmed schedules", scanScheduleUnarmed, `SELECT id, schedule, schedule_armed_at FROM flows
		WHERE `+scheduleActive+` AND schedule_next_at IS NULL
		ORDER BY schedule_armed_at LIMIT $1`, limit)
}

func scanScheduleUnarmed(row pgx.Row) (u ScheduleUnarmed, err error) {
	return u, row.Scan(&u.FlowID, &u.Schedule, &u.ArmedAt)
}

// ScheduleArm sets the next slot of a flow found by ScheduleListUnarmed,
// unless the flow changed meanwhile (another schedule, re-armed, or armed
// by another process): then it does nothing. A nil next parks the
// schedule (next slot 'infinity') because it cannot be evaluated.
func (s *Store) ScheduleArm(ctx context.Context, u ScheduleUnarmed, next *time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE flows SET schedule_next_at = coalesce($4::timestamptz, 'infinity')
		WHERE id = $1 AND schedule = $2 AND schedule_armed_at = $3 AND schedule_next_at IS NULL`,
		u.FlowID, u.Schedule, u.ArmedAt, next)
	if err != nil {
		return fmt.Errorf("arm schedule of flow %s: %w", u.FlowID, err)
	}
	return nil
}

// ScheduleDue is an active scheduled flow whose next slot has come, locked
// by the transaction that returned it.
type ScheduleDue struct {
	FlowID    uuid.UUID
	CompanyID uuid.UUID
	// Version is the flow's current definition version, the one the slot's
	// execution runs.
	Version  int
	Schedule string
	NextAt   time.Time
}

// ScheduleLockDue locks up to limit active flows whose next slot is at or
// before the database's clock, oldest slot first, until the end of the
// transaction this must run in, and returns them with that clock. Flows
// locked by another transaction (another process's schedule loop, or an
// edit in progress) are skipped, so concurrent loops share the due flows
// instead of waiting for each other.
func (s *Store) ScheduleLockDue(ctx context.Context, limit int) ([]ScheduleDue, time.Time, error) {
	if err := s.requireTx("lock due schedules"); err != nil {
		return nil, time.Time{}, err
	}
	var now time.Time
	if err := s.db.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
		return nil, time.Time{}, fmt.Errorf("read database clock: %w", err)
	}
	out, err := queryAll(ctx, s.db, "lock due schedules", scanScheduleDue, `SELECT id, company_id, version, schedule, schedule_next_at FROM flows
		WHERE `+scheduleActive+` AND schedule_next_at <= $1
		ORDER BY schedule_next_at LIMIT $2
		FOR UPDATE SKIP LOCKED`, now, limit)
	if err != nil {
		return nil, time.Time{}, err
	}
	return out, now, nil
}

func scanScheduleDue(row pgx.Row) (d ScheduleDue, err error) {
	return d, row.Scan(&d.FlowID, &d.CompanyID, &d.Version, &d.Schedule, &d.NextAt)
}

// ScheduleAdvance records the next slot of flows locked by
// ScheduleLockDue: next[i] is flowIDs[i]'s, nil parking the schedule
// ('infinity').
func (s *Store) ScheduleAdvance(ctx context.Context, flowIDs []uuid.UUID, next []*time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE flows f SET schedule_next_at = coalesce(u.next, 'infinity')
		FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, next) WHERE f.id = u.id`, flowIDs, next)
	if err != nil {
		return fmt.Errorf("advance schedules: %w", err)
	}
	return nil
}

// ScheduleNextDue returns the earliest next slot among active scheduled
// flows (the zero time when there is none) and the database's clock.
func (s *Store) ScheduleNextDue(ctx context.Context) (next, now time.Time, err error) {
	var n *time.Time
	err = s.db.QueryRow(ctx, `SELECT (SELECT schedule_next_at FROM flows
			WHERE `+scheduleActive+` AND schedule_next_at IS NOT NULL AND schedule_next_at < 'infinity'
			ORDER BY schedule_next_at LIMIT 1), now()`).Scan(&n, &now)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("read next schedule slot: %w", err)
	}
	if n != nil {
		next = *n
	}
	return next, now, nil
}
