package flow

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Events: the platform around flowd publishes typed events; a flow
// subscribes to them with patterns (Flow.Events) and an optional filter
// (Flow.EventFilter, eventfilter.go), and each event starts every
// subscribed flow with the event's envelope as the trigger payload.
//
// A type is dot-separated words of [A-Za-z0-9_-], at most MaxEventTypeLen
// characters ("call.ended"). A pattern is a type (exact match), a type
// followed by ".*" (every type below it: "call.*" matches "call.ended" and
// "call.recording.ready", not "call"), or "*" (every type).

// Limits of event types and patterns.
const (
	// MaxEventTypeLen is the longest event type or pattern, in characters.
	MaxEventTypeLen = 128
	// MaxEventPatterns is the most patterns a flow subscribes with.
	MaxEventPatterns = 50
)

// eventType matches a well-formed event type (length checked apart).
var eventType = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// eventTypeMsg says what a type must look like.
const eventTypeMsg = "must be dot-separated words of letters, digits, '_' and '-' (e.g. call.ended)"

// CheckEventType returns why s is not a valid event type, or nil.
func CheckEventType(s string) error {
	if s == "" {
		return fmt.Errorf("must not be empty")
	}
	if utf8.RuneCountInString(s) > MaxEventTypeLen {
		return fmt.Errorf("must be at most %d characters", MaxEventTypeLen)
	}
	if !eventType.MatchString(s) {
		return fmt.Errorf("%s", eventTypeMsg)
	}
	return nil
}

// CheckEventPattern returns why s is not a valid subscription pattern, or
// nil.
func CheckEventPattern(s string) error {
	if s == "*" {
		return nil
	}
	if utf8.RuneCountInString(s) > MaxEventTypeLen {
		return fmt.Errorf("must be at most %d characters", MaxEventTypeLen)
	}
	if prefix, ok := strings.CutSuffix(s, ".*"); ok {
		s = prefix
	}
	if s == "" || !eventType.MatchString(s) {
		return fmt.Errorf("must be an event type (call.ended), a prefix pattern (call.*) or *")
	}
	return nil
}

// EventPatternMatches reports whether pattern matches the event type typ.
func EventPatternMatches(pattern, typ string) bool {
	if pattern == "*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, ".*"); ok {
		return strings.HasPrefix(typ, prefix+".")
	}
	return pattern == typ
}

// EventPatternsFor lists every pattern that matches the event type typ:
// typ itself, "w1.w2.*" for each proper prefix of its words, and "*". A
// subscriber is then found by equality on its pattern, through an index,
// whatever the number of flows (at most MaxEventTypeLen/2 + 2 patterns).
func EventPatternsFor(typ string) []string {
	out := []string{typ}
	for i := len(typ) - 1; i > 0; i-- {
		if typ[i] == '.' {
			out = append(out, typ[:i]+".*")
		}
	}
	return append(out, "*")
}

// Event is a published event: its envelope fields, and what publishing it
// did.
type Event struct {
	ID          uuid.UUID       `json:"id"`
	CompanyID   uuid.UUID       `json:"-"`
	Type        string          `json:"type"`
	WorkspaceID string          `json:"workspace_id"`
	CreatedAt   time.Time       `json:"created_at"`
	Data        json.RawMessage `json:"data"`
	// IdempotencyKey is the publisher's Idempotency-Key, if any.
	IdempotencyKey *string `json:"idempotency_key,omitempty"`
	// Executions are the executions the event started, with their current
	// status.
	Executions []EventExecution `json:"executions"`
	// FilterErrors are the subscribed flows whose event_filter failed on
	// this event (they were not started).
	FilterErrors []EventFilterError `json:"filter_errors"`
}

// EventExecution is an execution started by an event.
type EventExecution struct {
	ID     uuid.UUID `json:"id"`
	FlowID uuid.UUID `json:"flow_id"`
	Status string    `json:"status"`
}

// EventFilterError is a subscribed flow whose filter failed at run time.
type EventFilterError struct {
	FlowID  uuid.UUID `json:"flow_id"`
	Message string    `json:"message"`
}

// eventEnvelope is the payload of an execution started by an event, and
// what an event_filter sees as `event`.
type eventEnvelope struct {
	ID          uuid.UUID       `json:"id"`
	Type        string          `json:"type"`
	WorkspaceID string          `json:"workspace_id"`
	CreatedAt   time.Time       `json:"created_at"`
	Data        json.RawMessage `json:"data"`
}

// Envelope is the trigger payload of the executions the event starts:
// {"id", "type", "workspace_id", "created_at", "data"}, so that
// flow_mapping reads "data.call.id".
func (e *Event) Envelope() json.RawMessage {
	b, err := marshalNoEscape(eventEnvelope{ID: e.ID, Type: e.Type, WorkspaceID: e.WorkspaceID,
		CreatedAt: e.CreatedAt, Data: jsonOrNull(e.Data)})
	if err != nil {
		// Data was checked by CheckJSONValue; nothing else can fail.
		panic(fmt.Sprintf("encode event envelope: %v", err))
	}
	return b
}

// jsonOrNull is raw, or null when it is empty.
func jsonOrNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

// Subscriber is a flow found subscribed to a published event's type, as
// the publisher needs it.
type Subscriber struct {
	FlowID      uuid.UUID
	Version     int
	EventFilter *string
}

// EventMatch is the outcome of the filters of an event's subscribers: the
// flows to start, and the filters that failed.
type EventMatch struct {
	Start        []Subscriber
	FilterErrors []EventFilterError
}

// MatchSubscribers runs each subscriber's filter (compiled once per flow
// version through cache) on the event and returns the flows to start: those
// without a filter and those whose filter returns true. A filter that
// fails (missing key, wrong type, too much work) does not match and is
// reported.
func MatchSubscribers(ev *Event, subs []Subscriber, cache *FilterCache) EventMatch {
	m := EventMatch{Start: make([]Subscriber, 0, len(subs)), FilterErrors: []EventFilterError{}}
	var env *eventVars
	for _, s := range subs {
		if s.EventFilter == nil {
			m.Start = append(m.Start, s)
			continue
		}
		if env == nil {
			env = newEventVars(ev)
		}
		ok, err := cache.Get(s.FlowID, s.Version, *s.EventFilter).Match(env)
		switch {
		case err != nil:
			m.FilterErrors = append(m.FilterErrors, EventFilterError{FlowID: s.FlowID, Message: err.Error()})
		case ok:
			m.Start = append(m.Start, s)
		}
	}
	return m
}
