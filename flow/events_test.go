package flow

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/flowd/flowd/internal/tabletest"
)

func TestCheckEventType(t *testing.T) {
	t.Parallel()
	tabletest.Func(t, "CheckEventType", messageOf(CheckEventType), []tabletest.Case[string, string]{
		{In: "call.ended"},
		{In: "call"},
		{In: "lead_2.created-x.A9"},
		{In: strings.Repeat("a", 128)},
		{Name: "129 characters", In: strings.Repeat("a", 129), Want: "must be at most 128 characters"},
		{In: "", Want: "must not be empty"},
		{In: "call..ended", Want: eventTypeMsg},
		{In: "call ended", Want: eventTypeMsg},
		{In: ".call", Want: eventTypeMsg},
		{In: "call.", Want: eventTypeMsg},
		{In: "call.*", Want: eventTypeMsg},
		{In: "*", Want: eventTypeMsg},
		{In: "appel.terminé", Want: eventTypeMsg},
	})
}

func TestEventPatternMatches(t *testing.T) {
	t.Parallel()
	type in struct{ pattern, typ string }
	match := func(c in) bool { return EventPatternMatches(c.pattern, c.typ) }
	tabletest.Func(t, "EventPatternMatches", match, []tabletest.Case[in, bool]{
		{In: in{"call.ended", "call.ended"}, Want: true},
		{In: in{"call.ended", "call.ended.late"}},
		{In: in{"call.ended", "call.started"}},
		{In: in{"call.*", "call.ended"}, Want: true},
		{In: in{"call.*", "call.recording.ready"}, Want: true},
		{In: in{"call.*", "call"}},
		{In: in{"call.*", "calls.ended"}},
		{In: in{"call.*", "xcall.ended"}},
		{In: in{"call.recording.*", "call.recording.ready"}, Want: true},
		{In: in{"call.recording.*", "call.ended"}},
		{In: in{"*", "call"}, Want: true},
		{In: in{"*", "lead.created"}, Want: true},
	})
}

// TestEventPatternsFor checks the candidate patterns of the indexed lookup
// against EventPatternMatches: a pattern matches a type exactly when it is
// one of the type's candidates.
func TestEventPatternsFor(t *testing.T) {
	t.Parallel()
	tabletest.Func(t, "EventPatternsFor", EventPatternsFor, []tabletest.Case[string, []string]{
		{In: "call", Want: []string{"call", "*"}},
		{In: "call.ended", Want: []string{"call.ended", "call.*", "*"}},
		{In: "call.recording.ready", Want: []string{"call.recording.ready", "call.recording.*", "call.*", "*"}},
	})
	types := []string{"call", "call.ended", "calls.ended", "call.recording.ready", "lead.created"}
	patterns := []string{"*", "call", "call.*", "call.ended", "calls.*", "call.recording.*", "lead.*", "call.recording.ready"}
	for _, typ := range types {
		cands := map[string]bool{}
		for _, p := range EventPatternsFor(typ) {
			cands[p] = true
		}
		for _, p := range patterns {
			if cands[p] != EventPatternMatches(p, typ) {
				t.Errorf("pattern %q, type %q: candidate %v, matches %v", p, typ, cands[p], EventPatternMatches(p, typ))
			}
		}
	}
}

func TestCheckEventPattern(t *testing.T) {
	t.Parallel()
	const bad = "must be an event type (call.ended), a prefix pattern (call.*) or *"
	tabletest.Func(t, "CheckEventPattern", messageOf(CheckEventPattern), []tabletest.Case[string, string]{
		{In: "*"},
		{In: "call.*"},
		{In: "call.ended"},
		{In: "call.recording.*"},
		{In: ".*", Want: bad},
		{In: "*.ended", Want: bad},
		{In: "call.*.x", Want: bad},
		{In: "call**", Want: bad},
		{In: "call..*", Want: bad},
		{Name: "129 characters", In: strings.Repeat("a", 127) + ".*", Want: "must be at most 128 characters"},
	})
}

// testEvent is an event of type call.ended with data.
func testEvent(data string) *Event {
	return &Event{ID: uuid.MustParse("6f1c1fd8-5a43-4c5e-9d6a-0e3a3c1b2a11"), Type: "call.ended", WorkspaceID: "default",
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Data: json.RawMessage(data)}
}

func TestEventFilterMatch(t *testing.T) {
	t.Parallel()
	type in struct{ filter, data string }
	type out struct {
		Match bool
		Err   string
	}
	run := func(c in) out {
		f, err := CompileEventFilter(c.filter)
		if err != nil {
			return out{Err: "compile: " + err.Error()}
		}
		ok, err := f.Match(newEventVars(testEvent(c.data)))
		if err != nil {
			return out{Err: err.Error()}
		}
		return out{Match: ok}
	}
	const call = `{"duration": 42, "direction": "inbound", "call": {"id": "c-1"}}`
	tabletest.Func(t, "EventFilter.Match", run, []tabletest.Case[in, out]{
		{Name: "true", In: in{`event.data.duration > 30 && event.data.direction == "inbound"`, call}, Want: out{Match: true}},
		{Name: "false", In: in{`event.data.duration > 60`, call}, Want: out{}},
		{Name: "envelope fields", In: in{`event.type == "call.ended" && event.workspace_id == "default" && event.id startsWith "6f1c" && event.created_at == "2026-01-02T03:04:05Z"`, call}, Want: out{Match: true}},
		{Name: "nested", In: in{`event.data.call.id == "c-1"`, call}, Want: out{Match: true}},
		{Name: "missing key compared", In: in{`event.data.seconds > 30`, call},
			Want: out{Err: "event_filter: evaluate expression: invalid operation: <nil> > int"}},
		{Name: "wrong type", In: in{`event.data.direction > 30`, call},
			Want: out{Err: "event_filter: evaluate expression: invalid operation: string > int"}},
		{Name: "not a boolean at run time", In: in{`event.data.direction`, call},
			Want: out{Err: "event_filter: evaluate expression: invalid operation: bool(string)"}},
		{Name: "data null", In: in{`event.data == nil`, `null`}, Want: out{Match: true}},
		{Name: "cost budget", In: in{lets(`event.type`, 40, func(p string) string { return p + " + " + p }, func(f string) string { return "len(" + f + ") > 0" }), call},
			Want: out{Err: "event_filter: evaluate expression: the expression does too much work"}},
		{Name: "memory budget", In: in{`len(1..100000000) > 0`, call},
			Want: out{Err: "event_filter: evaluate expression: memory budget exceeded"}},
	}, cmp.Comparer(func(a, b out) bool {
		return a.Match == b.Match && (a.Err == b.Err || (b.Err != "" && strings.HasPrefix(a.Err, b.Err)) || (a.Err != "" && strings.HasPrefix(b.Err, a.Err)))
	}))
}

func TestEventEnvelope(t *testing.T) {
	t.Parallel()
	got := string(testEvent(`{"call":{"id":"c-1"}}`).Envelope())
	want := `{"id":"6f1c1fd8-5a43-4c5e-9d6a-0e3a3c1b2a11","type":"call.ended","workspace_id":"default","created_at":"2026-01-02T03:04:05Z","data":{"call":{"id":"c-1"}}}`
	if got != want {
		t.Errorf("Envelope:\n got %s\nwant %s", got, want)
	}
}

func TestMatchSubscribers(t *testing.T) {
	t.Parallel()
	cache := NewFilterCache(0)
	ptr := func(s string) *string { return &s }
	plain, long, short, failing := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	subs := []Subscriber{
		{FlowID: plain, Version: 1},
		{FlowID: long, Version: 3, EventFilter: ptr(`event.data.duration > 30`)},
		{FlowID: short, Version: 1, EventFilter: ptr(`event.data.duration <= 30`)},
		{FlowID: failing, Version: 2, EventFilter: ptr(`event.data.missing > 1`)},
	}
	ev := testEvent(`{"duration": 42}`)
	for round := range 3 {
		m := MatchSubscribers(ev, subs, cache)
		var started []uuid.UUID
		for _, s := range m.Start {
			started = append(started, s.FlowID)
		}
		if d := cmp.Diff([]uuid.UUID{plain, long}, started); d != "" {
			t.Errorf("round %d: started (-want +got):\n%s", round, d)
		}
		if len(m.FilterErrors) != 1 || m.FilterErrors[0].FlowID != failing || !strings.Contains(m.FilterErrors[0].Message, "<nil> > int") {
			t.Errorf("round %d: filter errors %+v", round, m.FilterErrors)
		}
	}
	if n := cache.Compiles(); n != 3 {
		t.Errorf("3 filters published to 3 times compiled %d times; want once per flow version (3)", n)
	}
	// A new version of a flow compiles its filter again.
	subs[1].Version, subs[1].EventFilter = 4, ptr(`event.data.duration > 60`)
	if m := MatchSubscribers(ev, subs, cache); len(m.Start) != 1 || cache.Compiles() != 4 {
		t.Errorf("after an edit: started %d, compiles %d; want 1 and 4", len(m.Start), cache.Compiles())
	}
}

func TestFilterCacheBounded(t *testing.T) {
	t.Parallel()
	cache := NewFilterCache(2)
	id := uuid.New()
	for v := 1; v <= 5; v++ {
		cache.Get(id, v, "true")
	}
	if n := len(cache.filters); n != 2 {
		t.Errorf("cache of 2 holds %d filters", n)
	}
	f := cache.Get(uuid.New(), 1, "event.type +")
	if _, err := f.Match(newEventVars(testEvent(`{}`))); err == nil || !strings.Contains(err.Error(), "does not compile") {
		t.Errorf("a stored filter that does not compile: %v", err)
	}
}
