package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
)

// The references the hand-written encoders of encode.go are held to: the
// documents as encoding/json writes them from the storage types.

// updateRecord is one update record of queueExecutionsUpdate, tagged with
// the columns of executions it sets.
type updateRecord struct {
	ID            uuid.UUID             `json:"id"`
	Status        string                `json:"status"`
	AttemptNumber int                   `json:"attempt_number"`
	Steps         map[int]*stepStateDoc `json:"steps"`
	ErrorMessage  *string               `json:"error_message"`
	ExecutedAt    *time.Time            `json:"executed_at"`
	NextRetryAt   *time.Time            `json:"next_retry_at"`
	FinishedAt    *time.Time            `json:"finished_at"`
	Records       json.RawMessage       `json:"records,omitempty"`
}

// stepsDoc is steps as the executions.steps document: no map is an empty
// one ({}: the column is NOT NULL).
func stepsDoc(steps map[int]*flow.StepState) map[int]*stepStateDoc {
	doc := make(map[int]*stepStateDoc, len(steps))
	for n, st := range steps {
		var d *stepStateDoc
		if st != nil {
			d = new(stepStateDoc(*st))
		}
		doc[n] = d
	}
	return doc
}

func updateRecordOf(u *flow.ExecutionUpdate) updateRecord {
	return updateRecord{ID: u.ID, Status: u.Status, AttemptNumber: u.AttemptNumber, Steps: stepsDoc(u.Steps),
		ErrorMessage: u.ErrorMessage, ExecutedAt: u.ExecutedAt, NextRetryAt: u.NextRetryAt, FinishedAt: u.FinishedAt,
		Records: u.Records}
}

// attemptRowOf is the row that stores a: no headers and no extracted
// variables are {}.
func attemptRowOf(a *flow.StepAttempt) attemptRow {
	r := attemptRow(*a)
	if r.RequestHeaders == nil {
		r.RequestHeaders = map[string]string{}
	}
	if r.ResponseHeaders == nil {
		r.ResponseHeaders = map[string]string{}
	}
	if len(r.Extracted) == 0 {
		r.Extracted = json.RawMessage("{}")
	}
	return r
}

// gen makes values with what is hard to encode: escapes, control
// characters, invalid UTF-8, U+2028, HTML characters, absent values, time
// zones and fractions of seconds, raw JSON with spaces.
type gen struct{ r *rand.Rand }

var (
	genPieces = []string{"", "a", "step", `"`, `\`, "\x00", "\x1f", "\n", "\u2028", "\u2029", "é", "日本",
		"\xff", "\xed\xa0\x80", "<>&", "{{token}}", " ", "\U0001F600", "\ufffd"}
	genRaws = []string{`{"a":1}`, `[1, 2.5e3, -0]`, `"s\u00e9"`, `null`, ` {"n" : {"x": [true, false, null]}} `,
		`{"k": "\ud800", "z": "\u0000"}`, `[]`, `{}`, `0`}
)

func (g gen) string() string {
	var b []byte
	for range g.r.IntN(4) {
		b = append(b, genPieces[g.r.IntN(len(genPieces))]...)
	}
	return string(b)
}

func (g gen) optString() *string {
	if g.r.IntN(3) == 0 {
		return nil
	}
	return new(g.string())
}

func (g gen) time() time.Time {
	t := time.Unix(g.r.Int64N(4e9), g.r.Int64N(1e9)*int64(g.r.IntN(2)))
	switch g.r.IntN(3) {
	case 0:
		return t.UTC()
	case 1:
		return t.In(time.FixedZone("", (g.r.IntN(27)-12)*1800))
	}
	return t
}

func (g gen) optTime() *time.Time {
	if g.r.IntN(3) == 0 {
		return nil
	}
	return new(g.time())
}

func (g gen) raw() json.RawMessage {
	if g.r.IntN(3) == 0 {
		return nil
	}
	return json.RawMessage(genRaws[g.r.IntN(len(genRaws))])
}

func (g gen) headers() map[string]string {
	if g.r.IntN(4) == 0 {
		return nil
	}
	h := map[string]string{}
	for range g.r.IntN(4) {
		h[g.string()] = g.string()
	}
	return h
}

func (g gen) steps() map[int]*flow.StepState {
	if g.r.IntN(8) == 0 {
		return nil
	}
	steps := map[int]*flow.StepState{}
	for range g.r.IntN(12) {
		n := g.r.IntN(40) - 2
		if g.r.IntN(10) == 0 {
			steps[n] = nil
			continue
		}
		steps[n] = &flow.StepState{Status: g.string(), Attempts: g.r.IntN(5), FirstStartedAt: g.optTime(),
			NextAttemptAt: g.optTime(), FinishedAt: g.optTime(), Error: g.string(), Vars: g.raw(), Permanent: g.r.IntN(2) == 0}
	}
	return steps
}

func (g gen) update() flow.ExecutionUpdate {
	return flow.ExecutionUpdate{ID: flow.NewID(), Status: g.string(), AttemptNumber: g.r.IntN(30) - 1, Steps: g.steps(),
		ErrorMessage: g.optString(), ExecutedAt: g.optTime(), NextRetryAt: g.optTime(), FinishedAt: g.optTime(), Records: g.raw()}
}

func (g gen) attempt() flow.StepAttempt {
	a := flow.StepAttempt{ID: uuid.New(), ExecutionID: flow.NewID(), StepNumber: g.r.IntN(50), Attempt: g.r.IntN(9),
		ExecutionAttempt: g.r.IntN(9), Outcome: g.string(), RequestMethod: g.string(), RequestURL: g.string(),
		RequestHeaders: g.headers(), RequestBody: g.string(), ResponseHeaders: g.headers(), ResponseBody: g.string(),
		ResponseTruncated: g.r.IntN(2) == 0, DurationMS: g.r.Int64N(1 << 40), Error: g.string(), Extracted: g.raw(),
		WorkerID: g.string(), StartedAt: g.time()}
	if g.r.IntN(2) == 0 {
		a.ResponseStatus = new(100 + g.r.IntN(500))
	}
	return a
}

// sameMeaning fails unless got and want decode to the same JSON value.
func sameMeaning(t *testing.T, what string, got []byte, want any) {
	t.Helper()
	ref, err := json.Marshal(want)
	if err != nil {
		t.Fatalf("%s: reference: %v", what, err)
	}
	decode := func(doc []byte) any {
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v in %s", what, err, doc)
		}
		return v
	}
	if diff := cmp.Diff(decode(ref), decode(got)); diff != "" {
		t.Fatalf("%s: the hand-written document means something else than encoding/json's (-want +got):\n%s\ngot  %s\nwant %s", what, diff, got, ref)
	}
}

// TestEncodersMeanWhatEncodingJSONWrites holds appendUpdates, appendSteps
// and appendAttempts to json.Marshal of the storage types, over values
// made to be hard to encode.
func TestEncodersMeanWhatEncodingJSONWrites(t *testing.T) {
	t.Parallel()
	g := gen{rand.New(rand.NewPCG(1, 2))}
	for i := range 2000 {
		updates := make([]flow.ExecutionUpdate, g.r.IntN(4))
		recs := make([]updateRecord, len(updates))
		for j := range updates {
			updates[j] = g.update()
			recs[j] = updateRecordOf(&updates[j])
		}
		got, err := appendUpdates(nil, updates)
		if err != nil {
			t.Fatalf("#%d: %v", i, err)
		}
		sameMeaning(t, "updates", got, recs)

		attempts := make([]flow.StepAttempt, g.r.IntN(4))
		rows := make([]attemptRow, len(attempts))
		for j := range attempts {
			attempts[j] = g.attempt()
			rows[j] = attemptRowOf(&attempts[j])
		}
		if got, err = appendAttempts(nil, attempts); err != nil {
			t.Fatalf("#%d: %v", i, err)
		}
		sameMeaning(t, "attempts", got, rows)

		steps := g.steps()
		if got, err = appendSteps(nil, steps); err != nil {
			t.Fatalf("#%d: %v", i, err)
		}
		sameMeaning(t, "steps", got, stepsDoc(steps))
	}
}

// TestEncodeManyHeaders: a target may answer thousands of headers (net/http
// reads up to 1 MB of them); they are sorted in n log n, not compared
// pairwise, and mean what encoding/json writes.
func TestEncodeManyHeaders(t *testing.T) {
	t.Parallel()
	h := map[string]string{}
	for i := range 5000 {
		h[fmt.Sprintf("X-H-%d", (i*7919)%5000)] = fmt.Sprint(i)
	}
	a := flow.StepAttempt{ID: uuid.New(), ExecutionID: uuid.New(), ResponseHeaders: h, StartedAt: time.Unix(0, 0)}
	got, err := appendAttempts(nil, []flow.StepAttempt{a})
	if err != nil {
		t.Fatal(err)
	}
	sameMeaning(t, "attempt with 5,000 headers", got, []attemptRow{attemptRowOf(&a)})
}

// TestEncodersRefuseRawThatIsNotJSON: a raw field that is not JSON (which
// flowd never makes) is an error naming it, not a document PostgreSQL
// would refuse for the whole group.
func TestEncodersRefuseRawThatIsNotJSON(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("0193a5f2-0000-7000-8000-000000000001")
	for name, tc := range map[string]struct {
		encode func() ([]byte, error)
		want   string
	}{
		"records": {func() ([]byte, error) {
			return appendUpdates(nil, []flow.ExecutionUpdate{{ID: id, Records: json.RawMessage(`{"a":`)}})
		}, "execution 0193a5f2-0000-7000-8000-000000000001: records is not JSON"},
		"step vars": {func() ([]byte, error) {
			return appendUpdates(nil, []flow.ExecutionUpdate{{ID: id, Steps: map[int]*flow.StepState{2: {Vars: json.RawMessage(`nope`)}}}})
		}, "execution 0193a5f2-0000-7000-8000-000000000001: step 2: vars is not JSON"},
		"extracted": {func() ([]byte, error) {
			return appendAttempts(nil, []flow.StepAttempt{{ID: id, Extracted: json.RawMessage(`{"a" 1}`)}})
		}, "attempt 0193a5f2-0000-7000-8000-000000000001: extracted is not JSON"},
	} {
		doc, err := tc.encode()
		if !errors.Is(err, errNotJSON) || err.Error() != tc.want || doc != nil {
			t.Errorf("%s: got %q, %v; want no document and %q", name, doc, err, tc.want)
		}
	}
}

// BenchmarkEncodeCommit compares the hand-written encoding of a group
// commit of the 3-step chain's size with encoding/json's.
func BenchmarkEncodeCommit(b *testing.B) {
	now := time.Now()
	status := 200
	steps := map[int]*flow.StepState{
		1: {Status: flow.StepSuccess, Attempts: 1, FirstStartedAt: &now, FinishedAt: &now, Vars: json.RawMessage(`{"token":"abc"}`)},
		2: {Status: flow.StepRunning, Attempts: 1, FirstStartedAt: &now},
		3: {Status: flow.StepPending},
	}
	var updates []flow.ExecutionUpdate
	var attempts []flow.StepAttempt
	for range 16 {
		updates = append(updates, flow.ExecutionUpdate{ID: flow.NewID(), Status: flow.ExecutionStatusInProgress, AttemptNumber: 1, Steps: steps, ExecutedAt: &now})
		attempts = append(attempts, flow.StepAttempt{ID: flow.NewID(), ExecutionID: flow.NewID(), StepNumber: 1, Attempt: 1, ExecutionAttempt: 1,
			Outcome: flow.OutcomeSuccess, RequestMethod: "POST", RequestURL: "http://127.0.0.1:8080/step/1",
			RequestHeaders: map[string]string{"Content-Type": "application/json", "User-Agent": "flowd/1.0"}, RequestBody: `{"n":1}`,
			ResponseStatus: &status, ResponseHeaders: map[string]string{"Content-Type": "application/json", "Content-Length": "17"},
			ResponseBody: `{"token":"abc"}`, DurationMS: 1, Extracted: json.RawMessage(`{"token":"abc"}`), WorkerID: "w1", StartedAt: now})
	}
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := appendUpdates(make([]byte, 0, 512*len(updates)), updates); err != nil {
				b.Fatal(err)
			}
			if _, err := appendAttempts(make([]byte, 0, 1024*len(attempts)), attempts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			recs := make([]updateRecord, len(updates))
			for i := range updates {
				recs[i] = updateRecordOf(&updates[i])
			}
			rows := make([]attemptRow, len(attempts))
			for i := range attempts {
				rows[i] = attemptRowOf(&attempts[i])
			}
			mustJSON(recs)
			mustJSON(rows)
		}
	})
}
