package scheduler

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/groupcommit"
	"github.com/flowd/flowd/store"
	"github.com/flowd/flowd/telemetry"
)

// The group commits of triggers and of published events: concurrent
// triggers (API, inbound hooks) share one transaction of two statements
// (store.ExecutionsInsert and one InsertManyTx) instead of one transaction
// each; concurrent publishes share one of three (store.EventsInsert, then
// the same two for all their executions).
const (
	triggerShards   = 2
	triggerMaxBatch = 256
	// triggerWriteTimeout bounds one batch's transaction.
	triggerWriteTimeout = 30 * time.Second
	// triggerTries bounds how often Trigger re-reads a flow that changed
	// between its read and the insert.
	triggerTries = 3
)

// TriggerRequest asks for a new execution of a flow.
type TriggerRequest struct {
	// CompanyID is the company the flow belongs to: the token's for the
	// API, the flow's own for hooks (store.FlowHookSecretForHook) and
	// schedules. The zero id is refused (store.ErrNoCompany).
	CompanyID      uuid.UUID
	FlowID         uuid.UUID
	Variables      json.RawMessage
	Payload        json.RawMessage
	IdempotencyKey string
	Trigger        string
	ScheduledFor   *time.Time
}

// pendingTrigger is one execution queued in the trigger group: what to
// insert, the flow as the caller read it, the caller's flowd.trigger span
// (its job continues that trace), and the result once its batch ended.
type pendingTrigger struct {
	exec    *flow.Execution
	seen    *store.FlowRunInfo
	span    trace.SpanContext
	created bool
	err     error
}

func newTriggerGroup(s *Scheduler) *groupcommit.Group[*pendingTrigger] {
	return groupcommit.New(triggerShards, triggerMaxBatch, ErrStopped, s.writeTriggers)
}

// ErrStopped is returned by Trigger once the scheduler has stopped.
var ErrStopped = errors.New("scheduler stopped")

// Trigger writes a new execution and enqueues its job in one transaction,
// shared with the triggers that arrive at the same time; it returns once
// that transaction committed. With an idempotency key (or schedule slot)
// that was used before it returns the first execution and created false.
// Stopped, deleted and template flows are refused (flow.CheckTrigger).
// When ctx ends while the batch is being written, Trigger returns ctx's
// error and the execution may still have been committed: as with any lost
// answer, a client retries with its idempotency key.
func (s *Scheduler) Trigger(ctx context.Context, req TriggerRequest) (_ *flow.Execution, _ bool, err error) {
	ctx, span := s.cfg.Tracer.Start(ctx, "flowd.trigger", trace.WithAttributes(
		attribute.String("flowd.flow_id", req.FlowID.String()),
		attribute.String("flowd.trigger", cmp.Or(req.Trigger, flow.TriggerManual))))
	defer func() { telemetry.EndSpan(span, err) }()
	var key *string
	if req.IdempotencyKey != "" {
		key = &req.IdempotencyKey
		if e, err := s.store.ExecutionGetByIdempotencyKey(ctx, req.CompanyID, req.FlowID, req.IdempotencyKey); err == nil {
			return e, false, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, false, err
		}
	}
	for try := range triggerTries {
		// The first try decides on the cached flow; the insert checks it.
		info, err := s.runInfo.get(ctx, s.store, req.CompanyID, req.FlowID, try > 0)
		if err != nil {
			return nil, false, err
		}
		// Secret variables are sealed with the flow's secret names as this
		// version has them; the insert checks the version.
		vars, err := s.store.SealVariables(req.Variables, info.SecretNames)
		if err != nil {
			return nil, false, err
		}
		t := &pendingTrigger{exec: newExecution(req, info, key, vars), seen: info, span: span.SpanContext()}
		span.SetAttributes(attribute.String("flowd.execution_id", t.exec.ID.String()))
		if err := s.triggers.Submit(ctx, binary.BigEndian.Uint32(t.exec.ID[:]), t, true); err != nil {
			return nil, false, err
		}
		if t.err != nil {
			return nil, false, t.err
		}
		if t.created {
			return t.exec, true, nil
		}
		// Not inserted: a duplicate, or the flow changed after it was read.
		if key != nil {
			e, err := s.store.ExecutionGetByIdempotencyKey(ctx, req.CompanyID, req.FlowID, *key)
			if !errors.Is(err, store.ErrNotFound) {
				return e, false, err
			}
		} else if req.ScheduledFor != nil {
			if now, err := s.runInfo.get(ctx, s.store, req.CompanyID, req.FlowID, true); err != nil || sameRun(now, info) {
				return nil, false, cmp.Or(err, fmt.Errorf("%w: slot %v already has an execution", store.ErrConflict, req.ScheduledFor))
			}
		}
	}
	return nil, false, fmt.Errorf("%w: the flow changed while it was being triggered; try again", store.ErrConflict)
}

// sameRun reports whether a and b decide a trigger alike: what the insert
// checks (store.ExecutionsInsert).
func sameRun(a, b *store.FlowRunInfo) bool {
	return a.CompanyID == b.CompanyID && a.Status == b.Status && a.IsTemplate == b.IsTemplate && a.Version == b.Version
}

// newExecution is the execution req asks for, of the flow as info says,
// with its variables as stored (secret ones sealed).
func newExecution(req TriggerRequest, info *store.FlowRunInfo, key *string, vars json.RawMessage) *flow.Execution {
	return &flow.Execution{
		ExecutionSummary: flow.ExecutionSummary{
			ID:            flow.NewID(),
			Status:        flow.ExecutionStatusScheduled,
			AttemptNumber: 1,
		},
		FlowID:         req.FlowID,
		CompanyID:      info.CompanyID,
		FlowVersion:    info.Version,
		Trigger:        cmp.Or(req.Trigger, flow.TriggerManual),
		ScheduledFor:   req.ScheduledFor,
		IdempotencyKey: key,
		// The answer is the row as inserted: once the transaction commits
		// a worker may start the execution at once, and the answer must
		// show it as accepted, without another round trip.
		Payload:   orJSON(req.Payload, "null"),
		Variables: orJSON(vars, "{}"),
		Steps:     map[int]*flow.StepState{},
	}
}

// orJSON is v, or def when v is empty (the column's default).
func orJSON(v json.RawMessage, def string) json.RawMessage {
	if len(v) == 0 {
		return json.RawMessage(def)
	}
	return v
}

// writeTriggers is the trigger group's write (writeAlone).
func (s *Scheduler) writeTriggers(batch []*pendingTrigger) error {
	return writeAlone(s, "trigger", batch, s.insertTriggers, func(t *pendingTrigger, err error) { t.err = err })
}

// writeAlone writes batch in one transaction with insert; when that
// fails, it writes each item again alone, so that one bad item fails only
// its own caller, with its own error (answered through fail).
func writeAlone[T any](s *Scheduler, what string, batch []T, insert func([]T) error, fail func(T, error)) error {
	err := insert(batch)
	if err == nil {
		return nil
	}
	if len(batch) == 1 {
		fail(batch[0], err)
		return nil
	}
	s.log.Warn(what+" batch failed; writing its items one by one", "items", len(batch), "error", err)
	for _, item := range batch {
		fail(item, insert([]T{item}))
	}
	return nil
}

// insertTriggers writes batch in one transaction and records which were
// inserted once it committed. The batch runs in the trace of its first
// traced trigger: alone in its batch, a trigger's trace goes on through
// River's insert span; every job carries its own trigger's trace
// (telemetry.JobMetadata).
func (s *Scheduler) insertTriggers(batch []*pendingTrigger) error {
	ctx, cancel := context.WithTimeout(context.Background(), triggerWriteTimeout)
	defer cancel()
	execs := make([]*flow.Execution, len(batch))
	seen := make([]*store.FlowRunInfo, len(batch))
	traces := make([]trace.SpanContext, len(batch))
	for i, t := range batch {
		execs[i], seen[i], traces[i] = t.exec, t.seen, t.span
	}
	if i := slices.IndexFunc(traces, trace.SpanContext.IsValid); i >= 0 {
		ctx = trace.ContextWithSpanContext(ctx, traces[i])
	}
	var inserted map[uuid.UUID]bool
	err := s.store.InGroupTx(ctx, func(tx *store.Store) error {
		var err error
		inserted, err = s.insertExecutions(ctx, tx, execs, seen, traces)
		return err
	})
	for _, t := range batch {
		t.created = err == nil && inserted[t.exec.ID]
	}
	return err
}

// PublishRequest is an event to publish.
type PublishRequest struct {
	// CompanyID is the publishing token's company; only its flows start.
	CompanyID   uuid.UUID
	WorkspaceID string
	Type        string
	Data        json.RawMessage
	// IdempotencyKey, when not empty, makes a repeated publish return the
	// first event and start nothing.
	IdempotencyKey string
}

// pendingEvent is one event queued in the publish group: the event, the
// executions it starts, the publisher's span (their jobs continue that
// trace), and the result once its batch ended: created false when the
// event's idempotency key was taken.
type pendingEvent struct {
	ev      *flow.Event
	execs   []*flow.Execution
	span    trace.SpanContext
	created bool
	err     error
}

func newPublishGroup(s *Scheduler) *groupcommit.Group[*pendingEvent] {
	return groupcommit.New(triggerShards, triggerMaxBatch, ErrStopped, s.writeEvents)
}

// Publish publishes an event: every flow of the company in the event's
// workspace that subscribes to its type, may start (not a template, not
// stopped, not deleted) and whose event_filter (if any) is true gets an
// execution with trigger "event" and the event's envelope as payload.
//
// The subscribers are found and their filters run first; then the event
// row, every execution and every River job are written in one
// transaction, shared with the events published at the same time (the
// publish group: one multi-row insert of events, one InsertManyTx, one
// multi-row insert of executions), so that a failure starts nothing and a
// returned event started every execution it lists. With an idempotency key
// used before it returns the first event and created false. When ctx ends
// while the batch is being written, Publish returns ctx's error and the
// event may still have been committed (as with Trigger).
func (s *Scheduler) Publish(ctx context.Context, req PublishRequest) (ev *flow.Event, created bool, err error) {
	var key *string
	if req.IdempotencyKey != "" {
		key = &req.IdempotencyKey
		if ev, err := s.store.EventGetByIdempotencyKey(ctx, req.CompanyID, *key); err == nil {
			return ev, false, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, false, err
		}
	}
	p, err := s.newPendingEvent(ctx, req, key)
	if err != nil {
		return nil, false, err
	}
	ev = p.ev
	if err := s.events.Submit(ctx, binary.BigEndian.Uint32(ev.ID[:]), p, true); err != nil {
		return nil, false, err
	}
	if p.err != nil {
		return nil, false, p.err
	}
	if !p.created {
		if key == nil { // only a taken key stores nothing without an error
			return nil, false, fmt.Errorf("publish event %s: not stored", ev.ID)
		}
		// Published at the same time under the same key: the first wins.
		ev, err := s.store.EventGetByIdempotencyKey(ctx, req.CompanyID, *key)
		return ev, false, err
	}
	if s.cfg.Events != nil {
		s.cfg.Events.EventPublished(len(p.execs))
	}
	ev.Executions = make([]flow.EventExecution, len(p.execs))
	for i, e := range p.execs {
		ev.Executions[i] = flow.EventExecution{ID: e.ID, FlowID: e.FlowID, Status: flow.ExecutionStatusScheduled}
	}
	return ev, true, nil
}

// newPendingEvent is the event req publishes (stored with key) and the
// executions it starts: its subscribers are read and their filters run.
func (s *Scheduler) newPendingEvent(ctx context.Context, req PublishRequest, key *string) (*pendingEvent, error) {
	ev := &flow.Event{
		ID:             flow.NewID(),
		CompanyID:      req.CompanyID,
		Type:           req.Type,
		WorkspaceID:    req.WorkspaceID,
		CreatedAt:      time.Now().UTC().Truncate(time.Microsecond), // as PostgreSQL keeps it
		Data:           req.Data,
		IdempotencyKey: key,
	}
	subs, err := s.store.EventSubscribers(ctx, req.CompanyID, req.WorkspaceID, req.Type)
	if err != nil {
		return nil, err
	}
	match := flow.MatchSubscribers(ev, subs, s.filters)
	ev.FilterErrors = match.FilterErrors
	p := &pendingEvent{ev: ev, execs: make([]*flow.Execution, len(match.Start)), span: trace.SpanContextFromContext(ctx)}
	envelope := ev.Envelope()
	for i, sub := range match.Start {
		p.execs[i] = &flow.Execution{
			ExecutionSummary: flow.ExecutionSummary{ID: flow.NewID(), Status: flow.ExecutionStatusScheduled, AttemptNumber: 1},
			FlowID:           sub.FlowID,
			CompanyID:        req.CompanyID,
			FlowVersion:      sub.Version,
			Trigger:          flow.TriggerEvent,
			EventID:          &ev.ID,
			Payload:          envelope,
			Variables:        json.RawMessage("{}"),
		}
	}
	return p, nil
}

// writeEvents is the publish group's write (writeAlone).
func (s *Scheduler) writeEvents(batch []*pendingEvent) error {
	return writeAlone(s, "publish", batch, s.insertEvents, func(p *pendingEvent, err error) { p.err = err })
}

// insertEvents writes batch in one transaction: the events, then the
// executions of those stored (an event whose idempotency key is taken
// starts nothing) with their jobs (insertExecutions).
func (s *Scheduler) insertEvents(batch []*pendingEvent) error {
	ctx, cancel := context.WithTimeout(context.Background(), triggerWriteTimeout)
	defer cancel()
	events := make([]*flow.Event, len(batch))
	for i, p := range batch {
		events[i] = p.ev
	}
	if i := slices.IndexFunc(batch, func(p *pendingEvent) bool { return p.span.IsValid() }); i >= 0 {
		ctx = trace.ContextWithSpanContext(ctx, batch[i].span) // as insertTriggers
	}
	var stored map[uuid.UUID]bool
	err := s.store.InGroupTx(ctx, func(tx *store.Store) error {
		var err error
		if stored, err = tx.EventsInsert(ctx, events); err != nil {
			return err
		}
		var execs []*flow.Execution
		var traces []trace.SpanContext
		for _, p := range batch {
			if stored[p.ev.ID] {
				execs = append(execs, p.execs...)
				for range p.execs {
					traces = append(traces, p.span)
				}
			}
		}
		if len(execs) == 0 {
			return nil
		}
		inserted, err := s.insertExecutions(ctx, tx, execs, nil, traces)
		if err == nil && len(inserted) != len(execs) {
			err = fmt.Errorf("insert event executions: %d of %d inserted", len(inserted), len(execs))
		}
		return err
	})
	for _, p := range batch {
		p.created = err == nil && stored[p.ev.ID]
	}
	return err
}
