package scheduler

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/robfig/cron/v3"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/ctxtime"
	"github.com/flowd/flowd/store"
)

// CronTickDefault is the longest the schedule loop sleeps between passes.
const CronTickDefault = time.Second

// Bounds of one pass of the schedule loop.
const (
	// cronFireBatch is how many due flows one transaction locks and runs.
	cronFireBatch = 500
	// cronArmBatch is how many new or edited schedules one query arms.
	cronArmBatch = 500
	// cronMaxRounds bounds the batches of one pass; what is left waits for
	// the next pass.
	cronMaxRounds = 20
	// cronMinSleep and cronWakeMargin keep the loop from spinning when the
	// next slot is (nearly) now, or the database clock is a little ahead.
	cronMinSleep   = 10 * time.Millisecond
	cronWakeMargin = 5 * time.Millisecond
)

// The schedule loop. Every flowd process that has Start-ed a Scheduler
// runs one; they share the work through the database:
//
//   - flows.schedule_next_at holds each active flow's next slot. A flow
//     without one (new, schedule edited, resumed: the store sets
//     schedule_armed_at = now() and clears schedule_next_at) is "armed": its
//     next slot is the first one after schedule_armed_at.
//   - A pass locks due flows (schedule_next_at <= now(), FOR UPDATE SKIP
//     LOCKED, so two loops never work on the same flow at once), and for
//     each inserts the slot's execution and River job and advances
//     schedule_next_at, all in one transaction: a crash leaves either both
//     or neither. The unique index executions (flow_id, scheduled_for) is
//     the last guard: a slot that already has an execution is skipped.
//   - When several slots of a flow have passed (every process was down, or
//     the schedule is faster than the loop), only the latest runs; the
//     schedule then continues from the next slot after it.
//
// Slots are a pure function of the expression and the time: cron
// expressions are evaluated in UTC, and "@every <d>" intervals count from
// the Unix epoch (so "@every 1h" runs on the hour and "@every 30s" at :00
// and :30), whatever process computes them.
type cronLoop struct {
	s      *Scheduler
	cancel context.CancelFunc
	done   chan struct{}
}

// startCron starts the schedule loop of s; it runs until ctx is done or
// stop is called.
func startCron(ctx context.Context, s *Scheduler) *cronLoop {
	ctx, cancel := context.WithCancel(ctx)
	l := &cronLoop{s: s, cancel: cancel, done: make(chan struct{})}
	go l.run(ctx)
	return l
}

// stop ends the loop and waits for the pass in progress (its transaction
// commits or rolls back whole).
func (l *cronLoop) stop() {
	l.cancel()
	<-l.done
}

func (l *cronLoop) run(ctx context.Context) {
	defer close(l.done)
	l.s.log.Debug("schedule loop started", "tick", l.s.cfg.CronTick.String())
	for {
		if ctxtime.Sleep(ctx, l.pass(ctx)) != nil {
			return
		}
	}
}

// pass arms new schedules, runs the due slots, and returns how long to
// sleep: until the earliest next slot, at most CronTick.
func (l *cronLoop) pass(ctx context.Context) time.Duration {
	tick := l.s.cfg.CronTick
	if err := l.arm(ctx); err != nil {
		l.warn(ctx, "arming schedules", err)
		return tick
	}
	var lockedAt time.Time
	for range cronMaxRounds {
		n, at, err := l.fireDue(ctx)
		if err != nil {
			l.warn(ctx, "running due schedules", err)
			return tick
		}
		lockedAt = at
		if n < cronFireBatch {
			break
		}
	}
	next, now, err := l.s.store.ScheduleNextDue(ctx)
	if err != nil {
		l.warn(ctx, "reading the next schedule slot", err)
		return tick
	}
	if next.IsZero() || !next.After(lockedAt) {
		// Nothing scheduled, or the earliest slot was already due when this
		// pass locked the due flows: another process holds it, or it failed
		// here and waits for the next pass. Don't spin on it.
		return tick
	}
	return min(max(next.Sub(now)+cronWakeMargin, cronMinSleep), tick)
}

func (l *cronLoop) warn(ctx context.Context, doing string, err error) {
	if ctx.Err() != nil {
		return // shutting down
	}
	l.s.log.Warn("schedule loop: "+doing, "error", err)
}

// arm computes the first slot of flows whose schedule has none yet.
func (l *cronLoop) arm(ctx context.Context) error {
	for range cronMaxRounds {
		list, err := l.s.store.ScheduleListUnarmed(ctx, cronArmBatch)
		if err != nil {
			return err
		}
		for _, u := range list {
			var next *time.Time
			if sched, err := flow.ParseSchedule(u.Schedule); err != nil {
				l.s.log.Warn("schedule cannot be evaluated; it is parked until the flow is edited",
					"flow_id", u.FlowID, "error", err)
			} else if n := nextSlot(sched, u.ArmedAt); !n.IsZero() {
				next = &n
			}
			if err := l.s.store.ScheduleArm(ctx, u, next); err != nil {
				return err
			}
		}
		if len(list) < cronArmBatch {
			return nil
		}
	}
	return nil
}

// fireDue runs the due slots of up to cronFireBatch flows in one
// transaction (the same few statements whatever the number of flows) and returns
// how many flows were due and the database clock they were due by.
func (l *cronLoop) fireDue(ctx context.Context) (int, time.Time, error) {
	var n int
	var at time.Time
	err := l.s.store.InTx(ctx, func(tx *store.Store) error {
		due, now, err := tx.ScheduleLockDue(ctx, cronFireBatch)
		if err != nil || len(due) == 0 {
			return err
		}
		n, at = len(due), now
		flowIDs := make([]uuid.UUID, 0, len(due))
		nexts := make([]*time.Time, 0, len(due))
		execs := make([]*flow.Execution, 0, len(due))
		for _, d := range due {
			exec, next := l.slot(d, now)
			flowIDs, nexts = append(flowIDs, d.FlowID), append(nexts, next)
			if exec != nil {
				execs = append(execs, exec)
			}
		}
		if err := l.enqueue(ctx, tx, execs); err != nil {
			return err
		}
		return tx.ScheduleAdvance(ctx, flowIDs, nexts)
	})
	return n, at, err
}

// schedulePayload is the payload of a scheduled execution, so flow_mapping
// can map the slot into a variable.
type schedulePayload struct {
	ScheduledFor time.Time `json:"scheduled_for"`
}

// slot returns the execution of d's latest due slot and d's following
// slot; for a schedule that can no longer be evaluated, no execution and a
// nil next slot (parked).
func (l *cronLoop) slot(d store.ScheduleDue, now time.Time) (*flow.Execution, *time.Time) {
	sched, err := flow.ParseSchedule(d.Schedule)
	if err != nil {
		l.s.log.Warn("schedule cannot be evaluated; it is parked until the flow is edited",
			"flow_id", d.FlowID, "error", err)
		return nil, nil
	}
	slot := latestSlot(sched, d.NextAt, now)
	if slot.After(d.NextAt) {
		l.s.log.Info("schedule slots were missed; running only the latest",
			"flow_id", d.FlowID, "first_missed", d.NextAt, "scheduled_for", slot)
	}
	payload, _ := json.Marshal(schedulePayload{ScheduledFor: slot})
	exec := &flow.Execution{
		ExecutionSummary: flow.ExecutionSummary{
			ID:            flow.NewID(),
			Status:        flow.ExecutionStatusScheduled,
			AttemptNumber: 1,
		},
		FlowID:       d.FlowID,
		CompanyID:    d.CompanyID,
		FlowVersion:  d.Version,
		Trigger:      flow.TriggerSchedule,
		ScheduledFor: &slot,
		Payload:      payload,
	}
	var next *time.Time
	if n := nextSlot(sched, slot); !n.IsZero() {
		next = &n
	}
	return exec, next
}

// enqueue writes the executions of due slots and their River jobs in the
// transaction tx is bound to. A slot that already has an execution is
// skipped: it is done.
func (l *cronLoop) enqueue(ctx context.Context, tx *store.Store, execs []*flow.Execution) error {
	if len(execs) == 0 {
		return nil
	}
	inserted, err := l.s.insertExecutions(ctx, tx, execs, nil, nil)
	if err != nil {
		return err
	}
	for _, e := range execs {
		if inserted[e.ID] {
			l.s.log.Debug("schedule slot started", "execution_id", e.ID, "job_id", e.JobID)
		} else {
			l.s.log.Debug("schedule slot already has an execution", "flow_id", e.FlowID, "scheduled_for", e.ScheduledFor)
		}
	}
	return nil
}

// nextSlot returns the first slot of sched strictly after t, in UTC, or the
// zero time when there is none within five years. "@every" intervals count
// from the Unix epoch.
func nextSlot(sched cron.Schedule, t time.Time) time.Time {
	t = t.UTC()
	if cd, ok := sched.(cron.ConstantDelaySchedule); ok {
		d := int64(cd.Delay / time.Second) // at least 1: robfig rounds up to a second
		sec := t.Unix()
		n := sec - sec%d
		if sec < 0 && sec%d != 0 {
			n -= d
		}
		return time.Unix(n+d, 0).UTC()
	}
	return sched.Next(t).UTC()
}

// latestSlot returns the latest slot of sched at or before now, given
// first, a slot at or before now. It does not walk every slot since first:
// it looks back from now in doubling windows for a slot, then walks forward
// from there.
func latestSlot(sched cron.Schedule, first, now time.Time) time.Time {
	start := first
	for back := time.Minute; ; back *= 2 {
		probe := now.Add(-back)
		if !probe.After(first) {
			break
		}
		if s := nextSlot(sched, probe); !s.IsZero() && !s.After(now) {
			start = s
			break
		}
	}
	slot := start
	for {
		n := nextSlot(sched, slot)
		if n.IsZero() || n.After(now) {
			return slot
		}
		slot = n
	}
}
