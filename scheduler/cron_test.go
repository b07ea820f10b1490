package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/scheduler"
	"github.com/flowd/flowd/store"
)

type testBundle struct {
	env    *flowdtest.Env
	tenant *flowdtest.Tenant
	target *flowdtest.Target // the step of scheduledFlow posts its slot here
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	env := flowdtest.Shared(t)
	return &testBundle{env: env, tenant: env.NewTenant(t), target: flowdtest.NewTarget(t)}
}

// received counts the requests b.target received by the slot their body
// names.
func (b *testBundle) received() map[string]int {
	out := map[string]int{}
	for _, r := range b.target.Requests("") {
		var body struct {
			Slot string `json:"slot"`
		}
		_ = json.Unmarshal([]byte(r.Body), &body)
		out[body.Slot]++
	}
	return out
}

// scheduledFlow is a one-step flow on schedule whose step posts the slot
// it runs for (mapped from the scheduled execution's payload).
func scheduledFlow(name, schedule, url string) map[string]any {
	return map[string]any{
		"name":         name,
		"schedule":     schedule,
		"flow_mapping": map[string]any{"slot": "scheduled_for"},
		"steps": []any{map[string]any{
			"step_number": 1, "webhook_url": url, "webhook_method": "POST",
			"webhook_body": map[string]any{"slot": "{{slot}}"},
		}},
	}
}

func (b *testBundle) create(t *testing.T, body any) *flow.Flow {
	t.Helper()
	return b.env.CreateFlow(t, b.tenant, body)
}

func (b *testBundle) post(t *testing.T, path string, body any, want int) {
	t.Helper()
	if r := b.env.Do(t, b.tenant, "POST", path, body); r.Code != want {
		t.Fatalf("POST %s: want %d, got %d %s", path, want, r.Code, r.Raw)
	}
}

// executions returns the flow's executions, oldest first.
func (b *testBundle) executions(t *testing.T, flowID uuid.UUID) []flow.Execution {
	t.Helper()
	r := b.env.Do(t, b.tenant, "GET", "/v1/webhooks/"+flowID.String()+"/executions?limit=200", nil)
	if r.Code != http.StatusOK {
		t.Fatalf("list executions: %d %s", r.Code, r.Raw)
	}
	var list []flow.Execution
	r.Decode(t, &list)
	sort.Slice(list, func(i, j int) bool { return list[i].CreatedAt.Before(list[j].CreatedAt) })
	return list
}

// waitExecutions polls until the flow has at least n executions.
func (b *testBundle) waitExecutions(t *testing.T, flowID uuid.UUID, n int, timeout time.Duration) []flow.Execution {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		list := b.executions(t, flowID)
		if len(list) >= n {
			return list
		}
		if time.Now().After(deadline) {
			t.Fatalf("flow %s has %d executions after %s, want at least %d", flowID, len(list), timeout, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitFinished waits until none of the flow's executions is scheduled or
// in progress, and returns them.
func (b *testBundle) waitFinished(t *testing.T, flowID uuid.UUID) []flow.Execution {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		list := b.executions(t, flowID)
		busy := 0
		for _, e := range list {
			if e.Status == flow.ExecutionStatusScheduled || e.Status == flow.ExecutionStatusInProgress {
				busy++
			}
		}
		if busy == 0 {
			return list
		}
		if time.Now().After(deadline) {
			t.Fatalf("flow %s: %d executions still running", flowID, busy)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkNoMoreRuns fails the test if the flow (just stopped, deleted or
// unscheduled: what) starts another execution. It proves that something
// did not happen without sleeping for a guessed time: it waits until the
// schedule loops have run two slots of an "@every 1s" witness flow that
// both begin after now, passes in which the flow would have run too.
func (b *testBundle) checkNoMoreRuns(t *testing.T, flowID uuid.UUID, what string) {
	t.Helper()
	since := time.Now()
	before := len(b.executions(t, flowID))
	witness := b.create(t, scheduledFlow("witness", "@every 1s", flowdtest.NewTarget(t).URL))
	t.Cleanup(func() { b.env.Do(t, b.tenant, "POST", "/v1/integrations/"+witness.ID.String()+"/stop", nil) })
	flowdtest.WaitFor(t, 30*time.Second, "two slots of the witness flow", func() bool {
		after := 0
		for _, e := range b.executions(t, witness.ID) {
			if e.ScheduledFor != nil && e.ScheduledFor.After(since) {
				after++
			}
		}
		return after >= 2
	})
	if n := len(b.executions(t, flowID)); n != before {
		t.Fatalf("%s flow: executions went from %d to %d", what, before, n)
	}
}

// nextAt reads the flow's stored next slot (nil when not armed).
func (b *testBundle) nextAt(t *testing.T, flowID uuid.UUID) *time.Time {
	t.Helper()
	var next *time.Time
	err := b.env.Pool.QueryRow(context.Background(),
		`SELECT schedule_next_at FROM flows WHERE id = $1`, flowID).Scan(&next)
	if err != nil {
		t.Fatalf("read schedule_next_at: %v", err)
	}
	return next
}

// TestScheduleOncePerSlotAcrossProcesses runs a flow every second while
// two more flowd processes (each with its own schedule loop and workers)
// share the database: every slot gives one execution and one request.
func TestScheduleOncePerSlotAcrossProcesses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	flowdtest.New(t, nil)
	flowdtest.New(t, nil)
	f := b.create(t, scheduledFlow("every second", "@every 1s", b.target.URL))
	b.waitExecutions(t, f.ID, 4, 15*time.Second)
	b.post(t, "/v1/integrations/"+f.ID.String()+"/stop", nil, http.StatusOK)
	list := b.waitFinished(t, f.ID)

	perSlot := map[string]int{}
	var slots []time.Time
	for _, e := range list {
		if e.Trigger != flow.TriggerSchedule || e.ScheduledFor == nil {
			t.Fatalf("execution %s: trigger %q scheduled_for %v, want a schedule slot", e.ID, e.Trigger, e.ScheduledFor)
		}
		if e.Status != flow.ExecutionStatusSuccess {
			t.Errorf("execution %s for %s: %s %v", e.ID, e.ScheduledFor, e.Status, e.ErrorMessage)
		}
		if e.ScheduledFor.Nanosecond() != 0 {
			t.Errorf("slot %s is not on a second", e.ScheduledFor)
		}
		key := e.ScheduledFor.UTC().Format(time.RFC3339)
		perSlot[key]++
		slots = append(slots, *e.ScheduledFor)
	}
	for slot, n := range perSlot {
		if n != 1 {
			t.Errorf("slot %s has %d executions, want 1", slot, n)
		}
	}
	sort.Slice(slots, func(i, j int) bool { return slots[i].Before(slots[j]) })
	consecutive := 0
	for i := 1; i < len(slots); i++ {
		if slots[i].Sub(slots[i-1]) == time.Second {
			consecutive++
		}
	}
	t.Logf("slots: %v", slots)
	if consecutive < 2 {
		t.Errorf("want at least 3 consecutive slots one second apart, got %v", slots)
	}
	// The target saw each slot exactly once: no execution ran twice.
	if d := cmp.Diff(perSlot, b.received()); d != "" {
		t.Errorf("requests received per slot (-want +got):\n%s", d)
	}
}

// TestScheduleStopResume: a stopped flow's schedule pauses; resuming runs
// the next slots, never the ones that passed while stopped.
func TestScheduleStopResume(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.create(t, scheduledFlow("toggle", "@every 1s", b.target.URL))
	id := f.ID.String()
	b.waitExecutions(t, f.ID, 1, 10*time.Second)

	b.post(t, "/v1/integrations/"+id+"/stop", nil, http.StatusOK)
	stoppedAt := time.Now()
	b.checkNoMoreRuns(t, f.ID, "stopped")
	stopped := len(b.executions(t, f.ID))

	resumedAt := time.Now()
	b.post(t, "/v1/integrations/"+id+"/resume", nil, http.StatusOK)
	list := b.waitExecutions(t, f.ID, stopped+2, 10*time.Second)
	for _, e := range list {
		s := *e.ScheduledFor
		if s.After(stoppedAt) && !s.After(resumedAt) {
			t.Errorf("slot %s passed while the flow was stopped (%s to %s) but ran", s, stoppedAt, resumedAt)
		}
	}
	if got := list[len(list)-1].ScheduledFor; !got.After(resumedAt) {
		t.Errorf("newest slot %s is not after the resume at %s", got, resumedAt)
	}
	// A deleted flow's schedule ends too.
	if r := b.env.Do(t, b.tenant, "DELETE", "/v1/webhooks/"+id, nil); r.Code != http.StatusOK {
		t.Fatalf("delete: %d %s", r.Code, r.Raw)
	}
	b.checkNoMoreRuns(t, f.ID, "deleted")
}

// TestScheduleCatchUpRunsLatestMissedSlotOnce: a flow whose next slot was
// due hours ago, as if every flowd process had been down since, runs once,
// for the latest missed slot, then continues on schedule.
func TestScheduleCatchUpRunsLatestMissedSlotOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Stopped first, so no loop arms it while the test rewrites its state.
	f := b.create(t, scheduledFlow("hourly at :07", "7 * * * *", b.target.URL))
	b.post(t, "/v1/integrations/"+f.ID.String()+"/stop", nil, http.StatusOK)
	_, err := b.env.Pool.Exec(context.Background(), `UPDATE flows SET status = 'running',
		schedule_next_at = date_trunc('hour', now() - interval '5 hours') + interval '7 minutes'
		WHERE id = $1`, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	latest := func() time.Time {
		now := time.Now().UTC()
		s := now.Truncate(time.Hour).Add(7 * time.Minute)
		if s.After(now) {
			s = s.Add(-time.Hour)
		}
		return s
	}
	before := latest()
	list := b.waitExecutions(t, f.ID, 1, 10*time.Second)
	after := latest()
	got := *list[0].ScheduledFor
	if !got.Equal(before) && !got.Equal(after) {
		t.Errorf("catch-up ran slot %s, want the latest missed slot %s", got, before)
	}
	// The execution and the next slot are written in one transaction: the
	// next slot is already in the future, so no other missed slot is due.
	if next := b.nextAt(t, f.ID); next == nil || !next.Equal(got.Add(time.Hour)) {
		t.Fatalf("next slot after catch-up: %v, want %s", next, got.Add(time.Hour))
	}
	if list = b.executions(t, f.ID); len(list) != 1 {
		t.Fatalf("want exactly one catch-up execution, got %d", len(list))
	}
	done := b.waitFinished(t, f.ID)
	if done[0].Status != flow.ExecutionStatusSuccess {
		t.Errorf("catch-up execution: %s %v", done[0].Status, done[0].ErrorMessage)
	}
	if d := cmp.Diff(map[string]int{got.Format(time.RFC3339): 1}, b.received()); d != "" {
		t.Errorf("requests received per slot (-want +got):\n%s", d)
	}
}

// TestScheduleEditTakesEffectNextSlot: changing the schedule with PUT
// changes the next slot without a restart; an edit that keeps the
// schedule keeps the next slot.
func TestScheduleEditTakesEffectNextSlot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := scheduledFlow("yearly", "0 0 1 1 *", b.target.URL)
	f := b.create(t, def)
	path := "/v1/webhooks/" + f.ID.String()
	flowdtest.WaitFor(t, 10*time.Second, "the schedule armed", func() bool { return b.nextAt(t, f.ID) != nil })
	now := time.Now().UTC()
	wantNext := time.Date(now.Year()+1, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := b.nextAt(t, f.ID); !got.Equal(wantNext) {
		t.Fatalf("yearly schedule armed for %s, want %s", got, wantNext)
	}

	def["name"] = "renamed"
	if r := b.env.Do(t, b.tenant, "PUT", path, def); r.Code != http.StatusOK {
		t.Fatalf("rename: %d %s", r.Code, r.Raw)
	}
	if got := b.nextAt(t, f.ID); got == nil || !got.Equal(wantNext) {
		t.Errorf("an edit that keeps the schedule moved the next slot to %v", got)
	}

	def["schedule"] = "@every 1s"
	editedAt := time.Now()
	if r := b.env.Do(t, b.tenant, "PUT", path, def); r.Code != http.StatusOK {
		t.Fatalf("edit schedule: %d %s", r.Code, r.Raw)
	}
	list := b.waitExecutions(t, f.ID, 2, 10*time.Second)
	for _, e := range list {
		if !e.ScheduledFor.After(editedAt) || e.FlowVersion != 3 {
			t.Errorf("execution for slot %s version %d: want slots after the edit at %s on version 3", e.ScheduledFor, e.FlowVersion, editedAt)
		}
	}

	delete(def, "schedule")
	if r := b.env.Do(t, b.tenant, "PUT", path, def); r.Code != http.StatusOK {
		t.Fatalf("remove schedule: %d %s", r.Code, r.Raw)
	}
	b.checkNoMoreRuns(t, f.ID, "unscheduled")
}

// TestScheduledTemplateNeverRuns: a template's schedule is ignored; its
// clone runs on it.
func TestScheduledTemplateNeverRuns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := scheduledFlow("template", "@every 1s", b.target.URL)
	def["is_template"] = true
	tpl := b.create(t, def)
	r := b.env.Do(t, b.tenant, "POST", "/v1/integrations/"+tpl.ID.String()+"/clone", map[string]any{"flow_name": "clone"})
	if r.Code != http.StatusCreated {
		t.Fatalf("clone: %d %s", r.Code, r.Raw)
	}
	var clone flow.Flow
	r.Decode(t, &clone)
	if clone.Schedule == nil || *clone.Schedule != "@every 1s" || clone.IsTemplate {
		t.Fatalf("clone: want a runnable flow with the template's schedule, got %s", r.Raw)
	}
	b.waitExecutions(t, clone.ID, 2, 10*time.Second)
	if n := len(b.executions(t, tpl.ID)); n != 0 {
		t.Errorf("template ran %d times", n)
	}
	if next := b.nextAt(t, tpl.ID); next != nil {
		t.Errorf("template's schedule was armed for %s", next)
	}
}

func TestBadScheduleIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	existing := b.create(t, scheduledFlow("ok", "@hourly", b.target.URL))
	for _, tc := range []struct {
		name     string
		schedule any
	}{
		{"words", "every day"},
		{"six fields", "0 * * * * *"},
		{"out of range", "61 * * * *"},
		{"time zone", "TZ=Europe/Paris 0 9 * * *"},
		{"never fires", "0 0 30 2 *"},
		{"bad interval", "@every soon"},
		{"not a string", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			def := scheduledFlow("bad", "", b.target.URL)
			def["schedule"] = tc.schedule
			for _, req := range []struct{ method, path string }{
				{"POST", "/v1/webhooks"},
				{"PUT", "/v1/webhooks/" + existing.ID.String()},
			} {
				r := b.env.DoInvalid(t, b.tenant, req.method, req.path, def) // a bad schedule, on purpose
				if r.Code != http.StatusUnprocessableEntity || len(r.Errors) != 1 || r.Errors[0].Field != "schedule" {
					t.Errorf("%s %s with schedule %v: want 422 naming schedule, got %d %s", req.method, req.path, tc.schedule, r.Code, r.Raw)
				}
			}
		})
	}
	var got flow.Flow
	b.env.Do(t, b.tenant, "GET", "/v1/webhooks/"+existing.ID.String(), nil).Decode(t, &got)
	if got.Version != 1 || got.Schedule == nil || *got.Schedule != "@hourly" {
		t.Errorf("refused edits changed the flow: version %d schedule %v", got.Version, got.Schedule)
	}
}

// TestScheduleSlotAlreadyRunIsSkipped: when the due slot already has an
// execution (the unique index on (flow_id, scheduled_for) is the last
// guard), the loop starts nothing, enqueues no job and moves on; a second
// Trigger for the same slot is a conflict.
func TestScheduleSlotAlreadyRunIsSkipped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	now := time.Now().UTC()
	minute := (now.Minute() + 30) % 60 // the latest slot is about 30 minutes ago
	f := b.create(t, scheduledFlow("hourly", fmt.Sprintf("%d * * * *", minute), b.target.URL))
	slot := now.Truncate(time.Hour).Add(time.Duration(minute) * time.Minute)
	if slot.After(now) {
		slot = slot.Add(-time.Hour)
	}
	first, created, err := b.env.Sched.Trigger(ctx, scheduler.TriggerRequest{CompanyID: f.CompanyID, FlowID: f.ID, Trigger: flow.TriggerSchedule, ScheduledFor: &slot})
	if err != nil || !created {
		t.Fatalf("trigger slot %s: created %v, %v", slot, created, err)
	}
	if _, _, err := b.env.Sched.Trigger(ctx, scheduler.TriggerRequest{CompanyID: f.CompanyID, FlowID: f.ID, Trigger: flow.TriggerSchedule, ScheduledFor: &slot}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second trigger of slot %s: want store.ErrConflict, got %v", slot, err)
	}
	if _, err := b.env.Pool.Exec(ctx, `UPDATE flows SET schedule_next_at = $2 WHERE id = $1`, f.ID, slot); err != nil {
		t.Fatal(err)
	}
	flowdtest.WaitFor(t, 10*time.Second, "the next slot "+slot.Add(time.Hour).String(), func() bool {
		next := b.nextAt(t, f.ID)
		return next != nil && next.Equal(slot.Add(time.Hour))
	})
	list := b.executions(t, f.ID)
	if len(list) != 1 || list[0].ID != first.ID {
		t.Errorf("want only the first execution of slot %s, got %d executions", slot, len(list))
	}
	var orphans int
	err = b.env.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job j WHERE NOT EXISTS (
		SELECT 1 FROM executions e WHERE e.id = (j.args->>'execution_id')::uuid)`).Scan(&orphans)
	if err != nil || orphans != 0 {
		t.Errorf("jobs without an execution: %d (%v)", orphans, err)
	}
}

// TestUnparsableScheduleIsParked: a stored schedule that can no longer be
// evaluated (written before a parser change, or by hand) runs nothing and
// is parked instead of being retried on every pass.
func TestUnparsableScheduleIsParked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	unarmed := b.create(t, scheduledFlow("unarmed", "0 0 1 1 *", b.target.URL))
	due := b.create(t, scheduledFlow("due", "0 0 1 1 *", b.target.URL))
	_, err := b.env.Pool.Exec(ctx, `UPDATE flows SET schedule = 'every blue moon',
		schedule_next_at = CASE WHEN id = $1 THEN NULL ELSE now() - interval '1 minute' END
		WHERE id IN ($1, $2)`, unarmed.ID, due.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []*flow.Flow{unarmed, due} {
		flowdtest.WaitFor(t, 10*time.Second, "flow "+f.Name+" parked", func() bool {
			var parked bool
			err := b.env.Pool.QueryRow(ctx, `SELECT coalesce(schedule_next_at = 'infinity', false) FROM flows WHERE id = $1`, f.ID).Scan(&parked)
			if err != nil {
				t.Fatal(err)
			}
			return parked
		})
		if n := len(b.executions(t, f.ID)); n != 0 {
			t.Errorf("flow %q with an unparsable schedule ran %d times", f.Name, n)
		}
	}
}
