package flow

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/google/uuid"
)

// An event_filter is an expr-lang expression over `event`, the envelope
// of the published event: event.id, event.type, event.workspace_id,
// event.created_at (RFC 3339 text) and event.data (the event's data,
// parsed JSON). It must compile to a boolean when the flow is saved, in the
// same sandbox and with the same limits and cost budget as a
// success_condition expression (sandbox.go). At publish time a filter that
// fails (a missing key compared, a wrong type, too much work) does not
// match; the publisher reports it in filter_errors.

// eventFields is `event` as a filter sees it.
type eventFields struct {
	ID          string `expr:"id"`
	Type        string `expr:"type"`
	WorkspaceID string `expr:"workspace_id"`
	CreatedAt   string `expr:"created_at"`
	Data        any    `expr:"data"`
}

// eventFilterVars is the environment a filter is written against.
type eventFilterVars struct {
	Event eventFields `expr:"event"`
}

// eventFilterEnv is the environment a filter runs in: eventFilterVars and
// the evaluation's cost budget.
type eventFilterEnv struct {
	eventFilterVars
	Budget *exprBudget `expr:"_flowd_budget"`
}

// eventVars is an event decoded once for every filter run on it.
type eventVars struct{ fields eventFields }

// newEventVars decodes an event for its filters.
func newEventVars(ev *Event) *eventVars {
	var data any
	if len(ev.Data) > 0 {
		// Data was checked as JSON when it was published.
		_ = json.Unmarshal(ev.Data, &data)
	}
	return &eventVars{fields: eventFields{
		ID:          ev.ID.String(),
		Type:        ev.Type,
		WorkspaceID: ev.WorkspaceID,
		CreatedAt:   ev.CreatedAt.UTC().Format(time.RFC3339Nano),
		Data:        data,
	}}
}

// EventFilter is a compiled event_filter. It is safe for concurrent use.
type EventFilter struct {
	source  string
	program *vm.Program
	err     error // the filter does not compile (a definition saved by an older flowd)
}

// CompileEventFilter compiles an event_filter; the error says why it does
// not compile or is not boolean.
func CompileEventFilter(s string) (*EventFilter, error) {
	if len(s) > maxExpressionLen {
		return nil, fmt.Errorf("must be at most %d characters", maxExpressionLen)
	}
	program, err := compileSandboxed(s, eventFilterVars{}, eventFilterEnv{})
	if err != nil {
		return nil, err
	}
	return &EventFilter{source: s, program: program}, nil
}

// Match runs the filter on an event.
func (f *EventFilter) Match(ev *eventVars) (bool, error) {
	if f.err != nil {
		return false, f.err
	}
	ok, err := runSandboxed(f.program, eventFilterEnv{eventFilterVars: eventFilterVars{Event: ev.fields}, Budget: newExprBudget()})
	if err != nil {
		return false, fmt.Errorf("event_filter: %w", err)
	}
	return ok, nil
}

// FilterCacheSizeDefault is how many compiled filters a FilterCache keeps.
const FilterCacheSizeDefault = 10_000

// FilterCache keeps compiled event filters by flow version, so that a
// filter is compiled once per version of its flow, not once per event. It
// is safe for concurrent use.
type FilterCache struct {
	mu       sync.Mutex
	size     int
	filters  map[filterKey]*EventFilter
	compiles int
}

type filterKey struct {
	flowID  uuid.UUID
	version int
}

// NewFilterCache returns a cache of at most size filters (zero: the
// default).
func NewFilterCache(size int) *FilterCache {
	if size <= 0 {
		size = FilterCacheSizeDefault
	}
	return &FilterCache{size: size, filters: map[filterKey]*EventFilter{}}
}

// Get returns the compiled filter of a flow version, compiling source on
// the first call. A version's filter never changes (an edit makes a new
// version); the source is compared all the same, so that a cache can't
// run a stale filter.
func (c *FilterCache) Get(flowID uuid.UUID, version int, source string) *EventFilter {
	key := filterKey{flowID, version}
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.filters[key]; ok && f.source == source {
		return f
	}
	f, err := CompileEventFilter(source)
	if err != nil {
		f = &EventFilter{source: source, err: fmt.Errorf("event_filter does not compile: %w", err)}
	}
	c.compiles++
	if len(c.filters) >= c.size {
		for k := range c.filters { // evict one: any will do, a miss only costs a compile
			delete(c.filters, k)
			break
		}
	}
	c.filters[key] = f
	return f
}

// Compiles counts the filters the cache has compiled.
func (c *FilterCache) Compiles() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.compiles
}
