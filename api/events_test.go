package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/internal/testdb"
	"github.com/flowd/flowd/scheduler"
	"github.com/flowd/flowd/store"
)

// subscribedFlow is a one-step flow posting to url that subscribes to
// patterns, with filter as its event_filter unless it is empty.
func subscribedFlow(name, url string, patterns []string, filter string) map[string]any {
	f := simpleFlow(name, url)
	f["events"] = patterns
	if filter != "" {
		f["event_filter"] = filter
	}
	return f
}

// publish publishes an event for tn and returns it; any answer but 202
// fails the test.
func publish(t *testing.T, env *flowdtest.Env, tn *flowdtest.Tenant, body any, headers ...string) *flow.Event {
	t.Helper()
	r := env.Do(t, tn, "POST", "/v1/events", body, headers...)
	if r.Code != http.StatusAccepted {
		t.Fatalf("publish %v: %d %s", body, r.Code, r.Raw)
	}
	var ev flow.Event
	r.Decode(t, &ev)
	return &ev
}

// started returns the flows an event started, sorted.
func started(ev *flow.Event) []uuid.UUID {
	ids := make([]uuid.UUID, 0, len(ev.Executions))
	for _, x := range ev.Executions {
		ids = append(ids, x.FlowID)
	}
	return sortedIDs(ids...)
}

func sortedIDs(ids ...uuid.UUID) []uuid.UUID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	if out == nil {
		out = []uuid.UUID{}
	}
	return out
}

func TestEventPatternsMatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tn := b.tenant
	flowFor := func(patterns ...string) uuid.UUID {
		return b.create(t, tn, subscribedFlow(strings.Join(patterns, " "), b.target.URL, patterns, "")).ID
	}
	exact, prefix, all, bare := flowFor("call.ended"), flowFor("call.*"), flowFor("*"), flowFor("call")
	calls, deeper, both := flowFor("calls.ended"), flowFor("call.recording.*"), flowFor("call.*", "call.ended")
	b.create(t, tn, simpleFlow("not subscribed", b.target.URL))

	for _, tc := range []struct {
		typ  string
		want []uuid.UUID
	}{
		{"call.ended", sortedIDs(exact, prefix, all, both)},
		{"call.recording.ready", sortedIDs(prefix, all, deeper, both)},
		{"call", sortedIDs(all, bare)}, // call.* does not match call
		{"calls.ended", sortedIDs(all, calls)},
		{"lead.created", sortedIDs(all)},
	} {
		ev := publish(t, b.env, tn, map[string]any{"type": tc.typ, "data": map[string]any{"n": 1}})
		if d := cmp.Diff(tc.want, started(ev)); d != "" {
			t.Errorf("%s started (-want +got):\n%s", tc.typ, d)
		}
	}
}

// TestEventStartsFlowWithEnvelope: the execution an event starts carries
// trigger "event", the event id and the envelope as payload, so that
// flow_mapping reads data...; its request reaches the target.
func TestEventStartsFlowWithEnvelope(t *testing.T) {
	t.Parallel()
	b := setup(t)
	target := flowdtest.NewTarget(t)
	def := subscribedFlow("crm", target.URL+"/crm", []string{"call.ended"}, "")
	def["flow_mapping"] = map[string]any{"call_id": "data.call.id"}
	def["steps"] = []any{map[string]any{"step_number": 1, "webhook_url": target.URL + "/crm", "webhook_method": "POST",
		"webhook_body": map[string]any{"id": "{{call_id}}"}}}
	f := b.create(t, b.tenant, def)

	ev := publish(t, b.env, b.tenant, map[string]any{"type": "call.ended", "data": map[string]any{"call": map[string]any{"id": "c-42"}}})
	if len(ev.Executions) != 1 || ev.Executions[0].FlowID != f.ID || ev.Executions[0].Status != flow.ExecutionStatusScheduled {
		t.Fatalf("executions %+v", ev.Executions)
	}
	if ev.WorkspaceID != "default" || ev.Type != "call.ended" || len(ev.FilterErrors) != 0 {
		t.Errorf("event %+v", ev)
	}
	x := b.env.WaitExecution(t, b.tenant, ev.Executions[0].ID, time.Minute, flow.ExecutionStatusSuccess)
	if x.Trigger != flow.TriggerEvent || x.EventID == nil || *x.EventID != ev.ID {
		t.Errorf("execution trigger %q, event_id %v; want event, %s", x.Trigger, x.EventID, ev.ID)
	}
	var payload map[string]any
	if err := json.Unmarshal(x.Payload, &payload); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": ev.ID.String(), "type": "call.ended", "workspace_id": "default",
		"created_at": ev.CreatedAt.Format(time.RFC3339Nano), "data": map[string]any{"call": map[string]any{"id": "c-42"}}}
	if d := cmp.Diff(want, payload); d != "" {
		t.Errorf("payload (-want +got):\n%s", d)
	}
	if reqs := target.Requests("/crm"); len(reqs) != 1 || reqs[0].Body != `{"id":"c-42"}` {
		t.Errorf("target received %+v", reqs)
	}
	// The event shows its execution's current status.
	var got flow.Event
	b.env.Do(t, b.tenant, "GET", "/v1/events/"+ev.ID.String(), nil).Decode(t, &got)
	if len(got.Executions) != 1 || got.Executions[0].Status != flow.ExecutionStatusSuccess || got.Executions[0].ID != x.ID {
		t.Errorf("GET event executions %+v", got.Executions)
	}
}

func TestEventFilter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tn := b.tenant
	ev := []string{"call.ended"}
	plain := b.create(t, tn, subscribedFlow("plain", b.target.URL, ev, "")).ID
	long := b.create(t, tn, subscribedFlow("long calls", b.target.URL, ev, `event.data.duration > 30 && event.data.direction == "inbound"`)).ID
	short := b.create(t, tn, subscribedFlow("short calls", b.target.URL, ev, `event.data.duration <= 30`)).ID
	failing := b.create(t, tn, subscribedFlow("failing", b.target.URL, ev, `event.data.seconds > 30`)).ID

	for _, tc := range []struct {
		duration int
		want     []uuid.UUID
	}{
		{42, sortedIDs(plain, long)},
		{10, sortedIDs(plain, short)},
	} {
		got := publish(t, b.env, tn, map[string]any{"type": "call.ended", "data": map[string]any{"duration": tc.duration, "direction": "inbound"}})
		if d := cmp.Diff(tc.want, started(got)); d != "" {
			t.Errorf("duration %d started (-want +got):\n%s", tc.duration, d)
		}
		if len(got.FilterErrors) != 1 || got.FilterErrors[0].FlowID != failing || !strings.Contains(got.FilterErrors[0].Message, "<nil> > int") {
			t.Errorf("duration %d filter_errors %+v; want the failing flow's", tc.duration, got.FilterErrors)
		}
		// The filter errors are kept with the event.
		var again flow.Event
		b.env.Do(t, tn, "GET", "/v1/events/"+got.ID.String(), nil).Decode(t, &again)
		if d := cmp.Diff(got.FilterErrors, again.FilterErrors); d != "" {
			t.Errorf("GET filter_errors (-published +read):\n%s", d)
		}
	}
	b.wantExecutions(t, tn, failing, 0, "the flow whose filter failed")
}

// TestEventScoping: only the publishing company's flows in the event's
// workspace start; templates, stopped and deleted flows don't; a resumed
// flow does again.
func TestEventScoping(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a, other := b.tenant, b.env.NewTenant(t)
	ev := []string{"lead.created"}
	live := b.create(t, a, subscribedFlow("live", b.target.URL, ev, "")).ID
	salesDef := subscribedFlow("sales", b.target.URL, ev, "")
	salesDef["workspace_id"] = "sales"
	sales := b.create(t, a, salesDef).ID
	tmplDef := subscribedFlow("template", b.target.URL, ev, "")
	tmplDef["is_template"] = true
	b.create(t, a, tmplDef)
	stopped := b.create(t, a, subscribedFlow("stopped", b.target.URL, ev, "")).ID
	b.env.Do(t, a, "POST", "/v1/integrations/"+stopped.String()+"/stop", nil)
	deleted := b.create(t, a, subscribedFlow("deleted", b.target.URL, ev, "")).ID
	b.env.Do(t, a, "DELETE", "/v1/webhooks/"+deleted.String(), nil)
	otherFlow := b.create(t, other, subscribedFlow("other company", b.target.URL, ev, "")).ID

	body := map[string]any{"type": "lead.created", "data": nil}
	if d := cmp.Diff(sortedIDs(live), started(publish(t, b.env, a, body))); d != "" {
		t.Errorf("default workspace started (-want +got):\n%s", d)
	}
	inSales := publish(t, b.env, a, map[string]any{"type": "lead.created", "workspace_id": "sales"})
	if d := cmp.Diff(sortedIDs(sales), started(inSales)); d != "" {
		t.Errorf("sales workspace started (-want +got):\n%s", d)
	}
	b.env.Do(t, a, "POST", "/v1/integrations/"+stopped.String()+"/resume", nil)
	if d := cmp.Diff(sortedIDs(live, stopped), started(publish(t, b.env, a, body))); d != "" {
		t.Errorf("after resume started (-want +got):\n%s", d)
	}

	// Company B's publish starts only B's flows; B can't read A's events.
	fromB := publish(t, b.env, other, body)
	if d := cmp.Diff(sortedIDs(otherFlow), started(fromB)); d != "" {
		t.Errorf("company B started (-want +got):\n%s", d)
	}
	if r := b.env.Do(t, other, "GET", "/v1/events/"+inSales.ID.String(), nil); r.Code != http.StatusNotFound {
		t.Errorf("B reading A's event: %d %s", r.Code, r.Raw)
	}
	var listB []flow.Event
	b.env.Do(t, other, "GET", "/v1/events", nil).Decode(t, &listB)
	if len(listB) != 1 || listB[0].ID != fromB.ID {
		t.Errorf("B's event list %+v; want only B's event", listB)
	}
}

func TestEventIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.create(t, b.tenant, subscribedFlow("once", b.target.URL, []string{"call.ended"}, ""))
	body := map[string]any{"type": "call.ended", "data": map[string]any{"n": 1}}
	first := publish(t, b.env, b.tenant, body, "Idempotency-Key", "call-7-ended")
	again := publish(t, b.env, b.tenant, body, "Idempotency-Key", "call-7-ended")
	if again.ID != first.ID || len(again.Executions) != 1 || again.Executions[0].ID != first.Executions[0].ID {
		t.Errorf("repeat answered %+v; want the first event %+v", again, first)
	}
	b.wantExecutions(t, b.tenant, f.ID, 1, "two publishes with one key")
	if other := publish(t, b.env, b.tenant, body, "Idempotency-Key", "call-8-ended"); other.ID == first.ID {
		t.Errorf("another key answered the first event")
	}
}

// TestEventSubscriptionRoundTrip: events and event_filter come back in
// every flow answer, survive a PUT and a clone, and an edit that
// unsubscribes takes effect at once.
func TestEventSubscriptionRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tn := b.tenant
	plain := b.create(t, tn, simpleFlow("plain", b.target.URL))
	if plain.Events == nil || len(plain.Events) != 0 || plain.EventFilter != nil {
		t.Errorf("a flow without subscription answers events %v, event_filter %v; want [] and null", plain.Events, plain.EventFilter)
	}
	def := subscribedFlow("sub", b.target.URL, []string{"call.*", "lead.created"}, "event.data.duration > 30")
	f := b.create(t, tn, def)
	check := func(what string, got *flow.Flow) {
		t.Helper()
		if d := cmp.Diff([]string{"call.*", "lead.created"}, got.Events); d != "" || got.EventFilter == nil || *got.EventFilter != "event.data.duration > 30" {
			t.Errorf("%s: events (-want +got):\n%s event_filter %v", what, d, got.EventFilter)
		}
	}
	check("create", f)
	var got flow.Flow
	b.env.Do(t, tn, "GET", "/v1/webhooks/"+f.ID.String(), nil).Decode(t, &got)
	check("get", &got)
	b.env.Do(t, tn, "PUT", "/v1/webhooks/"+f.ID.String(), got).Decode(t, &got)
	check("put of the GET answer", &got)
	var clone flow.Flow
	b.env.Do(t, tn, "POST", "/v1/integrations/"+f.ID.String()+"/clone", map[string]any{"flow_name": "copy"}).Decode(t, &clone)
	check("clone", &clone)

	long := map[string]any{"type": "call.ended", "data": map[string]any{"duration": 60}}
	if d := cmp.Diff(sortedIDs(f.ID, clone.ID), started(publish(t, b.env, tn, long))); d != "" {
		t.Errorf("before the edit started (-want +got):\n%s", d)
	}
	def["events"] = []string{"lead.created"}
	b.env.Do(t, tn, "PUT", "/v1/webhooks/"+f.ID.String(), def)
	if d := cmp.Diff(sortedIDs(clone.ID), started(publish(t, b.env, tn, long))); d != "" {
		t.Errorf("after unsubscribing started (-want +got):\n%s", d)
	}
}

func TestEventBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tn := b.env.NewTenant(t)
	b.create(t, tn, subscribedFlow("victim", b.target.URL, []string{"*"}, ""))
	for _, tc := range []struct {
		name  string
		body  string
		code  int
		field string
	}{
		{"type missing", `{"data": {}}`, 422, "type"},
		{"type empty", `{"type": ""}`, 422, "type"},
		{"type with empty word", `{"type": "call..ended"}`, 422, "type"},
		{"type with a space", `{"type": "call ended"}`, 422, "type"},
		{"type 129 characters", `{"type": "` + strings.Repeat("a", 129) + `"}`, 422, "type"},
		{"type a pattern", `{"type": "call.*"}`, 422, "type"},
		{"type not a string", `{"type": 5}`, 422, "type"},
		{"unknown field", `{"type": "call.ended", "payload": {}}`, 422, "payload"},
		{"data with NUL", `{"type": "call.ended", "data": {"k": "a\u0000b"}}`, 422, "data.k"},
		{"workspace too long", `{"type": "call.ended", "workspace_id": "` + strings.Repeat("w", 101) + `"}`, 422, "workspace_id"},
		{"not an object", `[{"type": "call.ended"}]`, 400, "body"},
		{"not JSON", `{"type": `, 400, "body"},
		{"data over the body limit", `{"type": "call.ended", "data": "` + strings.Repeat("x", api.MaxBodyBytesDefault) + `"}`, 413, "body"},
	} {
		r := b.env.DoInvalid(t, tn, "POST", "/v1/events", tc.body)
		if r.Code != tc.code || len(r.Errors) == 0 || r.Errors[0].Field != tc.field {
			t.Errorf("%s: want %d naming %s, got %d %s", tc.name, tc.code, tc.field, r.Code, r.Raw[:min(300, len(r.Raw))])
		}
	}
	if r := b.env.DoInvalid(t, tn, "GET", "/v1/events?type=call..ended", nil); r.Code != 400 || r.Errors[0].Field != "type" {
		t.Errorf("list with a malformed type: %d %s", r.Code, r.Raw)
	}
	var list []flow.Event
	b.env.Do(t, tn, "GET", "/v1/events", nil).Decode(t, &list)
	if len(list) != 0 {
		t.Errorf("refused publishes stored %d events", len(list))
	}

	// Flows: bad subscriptions are refused naming the field, nothing stored.
	tooMany := make([]string, 51)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("e%d.x", i)
	}
	for _, tc := range []struct {
		name  string
		edit  func(map[string]any)
		field string
	}{
		{"too many patterns", func(f map[string]any) { f["events"] = tooMany }, "events"},
		{"malformed pattern", func(f map[string]any) { f["events"] = []string{"call..ended"} }, "events[0]"},
		{"filter does not compile", func(f map[string]any) { f["event_filter"] = "event.data.duration >" }, "event_filter"},
		{"filter not boolean", func(f map[string]any) { f["event_filter"] = `event.type + "x"` }, "event_filter"},
	} {
		def := subscribedFlow(tc.name, b.target.URL, []string{"call.ended"}, "")
		tc.edit(def)
		r := b.env.DoInvalid(t, tn, "POST", "/v1/webhooks", def)
		if r.Code != 422 || len(r.Errors) != 1 || r.Errors[0].Field != tc.field {
			t.Errorf("%s: want 422 naming %s, got %d %s", tc.name, tc.field, r.Code, r.Raw)
		}
	}
	var flows []flow.Flow
	b.env.Do(t, tn, "GET", "/v1/webhooks", nil).Decode(t, &flows)
	if len(flows) != 1 {
		t.Errorf("refused flows stored: %d flows", len(flows))
	}
}

func TestEventList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tn := b.env.NewTenant(t)
	var ended []uuid.UUID
	for i := range 3 {
		ended = append(ended, publish(t, b.env, tn, map[string]any{"type": "call.ended", "data": i}).ID)
		publish(t, b.env, tn, map[string]any{"type": "call.started", "data": i})
	}
	var got []uuid.UUID
	path := "/v1/events?type=call.ended&limit=2"
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatal("the pages do not end")
		}
		r := b.env.Do(t, tn, "GET", path, nil)
		var page []flow.Event
		r.Decode(t, &page)
		for _, ev := range page {
			if ev.Type != "call.ended" {
				t.Errorf("type filter let through %s", ev.Type)
			}
			got = append(got, ev.ID)
		}
		path = ""
		if r.Next != nil {
			path = "/v1/events?type=call.ended&limit=2&cursor=" + *r.Next
		}
	}
	want := []uuid.UUID{ended[2], ended[1], ended[0]} // newest first
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	var all []flow.Event
	b.env.Do(t, tn, "GET", "/v1/events", nil).Decode(t, &all)
	if len(all) != 6 {
		t.Errorf("unfiltered list has %d events; want 6", len(all))
	}
}

// bulkTenant makes a company with a token and n flows subscribed to
// call.ended, stored through the store in one transaction (n API calls
// would take most of the test's time for nothing it checks).
func bulkTenant(t *testing.T, st *store.Store, n int) *flowdtest.Tenant {
	t.Helper()
	ctx := context.Background()
	tn := &flowdtest.Tenant{CompanyID: uuid.New(), UserID: uuid.New()}
	token, _, err := auth.CreateToken(ctx, st, tn.CompanyID, tn.UserID, "bulk")
	if err != nil {
		t.Fatal(err)
	}
	tn.Token = token
	raw, err := json.Marshal(subscribedFlow("bulk", "https://crm.example.com/calls", []string{"call.ended"}, ""))
	if err != nil {
		t.Fatal(err)
	}
	in, err := flow.DecodeFlow(raw)
	if err != nil {
		t.Fatal(err)
	}
	err = st.InTx(ctx, func(tx *store.Store) error {
		for range n {
			if _, err := tx.FlowCreate(ctx, tn.CompanyID, tn.UserID, in, "whsec_bulk"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("create %d flows: %v", n, err)
	}
	return tn
}

// TestEventPublishThousandFlows publishes to 1,000 subscribed flows, on a
// database of its own with an insert-only scheduler (nothing runs the
// executions): a failure part-way starts nothing, and a publish takes the
// same number of SQL statements for 1 subscribed flow as for 1,000. How
// long it takes is measured by `make bench`, not here.
func TestEventPublishThousandFlows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, counter := countedPool(t, testdb.NewDatabase(t))
	st := store.New(pool, testdb.Keys())
	// River sends its insert notification at most once per FetchCooldown,
	// so whether a publish sends one depends on the time since the last:
	// it is left out of the count (it is one statement, whatever the jobs).
	counter.skip = append(counter.skip, "PGNotifyMany")
	sched, err := scheduler.New(pool, st, &scheduler.Config{Logger: flowdtest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := flowdtest.NewServer(t, api.New(st, sched, &api.Config{RateLimit: -1}).Handler())
	one, many := bulkTenant(t, st, 1), bulkTenant(t, st, 1000)
	body := map[string]any{"type": "call.ended", "data": map[string]any{"duration": 42}}
	counts := func() (events, executions, jobs int) {
		t.Helper()
		err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM executions),
			(SELECT count(*) FROM river_job)`).Scan(&events, &executions, &jobs)
		if err != nil {
			t.Fatal(err)
		}
		return events, executions, jobs
	}

	t.Run("a failure part-way starts nothing", func(t *testing.T) {
		_, err := pool.Exec(ctx, `CREATE SEQUENCE execution_inserts;
			CREATE FUNCTION fail_500th_execution() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF nextval('execution_inserts') = 500 THEN
					RAISE EXCEPTION 'the 500th execution insert fails';
				END IF;
				RETURN NEW;
			END $$;
			CREATE TRIGGER fail_500th BEFORE INSERT ON executions
				FOR EACH ROW EXECUTE FUNCTION fail_500th_execution();`)
		if err != nil {
			t.Fatal(err)
		}
		r := srv.Do(t, many, "POST", "/v1/events", body)
		if r.Code != http.StatusInternalServerError {
			t.Errorf("publish with a failing 500th insert: %d %s", r.Code, r.Raw)
		}
		var inserts int
		if err := pool.QueryRow(ctx, `SELECT last_value FROM execution_inserts`).Scan(&inserts); err != nil || inserts != 500 {
			t.Errorf("the trigger saw %d inserts (%v); want it to fail the 500th", inserts, err)
		}
		if ev, x, j := counts(); ev+x+j != 0 {
			t.Errorf("after the failed publish: %d events, %d executions, %d jobs; want none", ev, x, j)
		}
		if _, err := pool.Exec(ctx, `DROP TRIGGER fail_500th ON executions`); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("the statement count does not grow with the flows", func(t *testing.T) {
		publishCounted := func(tn *flowdtest.Tenant, want int) (*flow.Event, int64) {
			t.Helper()
			srv.Do(t, tn, "GET", "/v1/events?limit=1", nil) // warm the token cache
			before := counter.n.Load()
			ev := publish(t, srv, tn, body)
			n := counter.n.Load() - before
			if len(ev.Executions) != want {
				t.Fatalf("publish started %d executions; want %d", len(ev.Executions), want)
			}
			return ev, n
		}
		_, n1 := publishCounted(one, 1)
		ev, n1000 := publishCounted(many, 1000)
		t.Logf("POST /v1/events: %d statements for 1 subscribed flow, %d for 1,000", n1, n1000)
		if n1 != n1000 || n1 > 6 {
			t.Errorf("POST /v1/events ran %d statements for 1 subscribed flow and %d for 1,000; want the same small number", n1, n1000)
		}
		var executions, jobs int
		err := pool.QueryRow(ctx, `SELECT count(*), count(j.id) FROM executions e
			LEFT JOIN river_job j ON j.id = e.job_id AND j.args->>'execution_id' = e.id::text
			WHERE e.event_id = $1 AND e.trigger = 'event'`, ev.ID).Scan(&executions, &jobs)
		if err != nil || executions != 1000 || jobs != 1000 {
			t.Errorf("the event has %d executions and %d jobs (%v); want 1,000 of each", executions, jobs, err)
		}
	})
}
