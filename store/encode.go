package store

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/tidwall/gjson"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/jsonstr"
)

// The group commit's documents, written by hand: the executions update
// records (jsonb_to_recordset of queueExecutionsUpdate), the step states
// inside them (executions.steps) and the attempt rows
// (queueAttemptsInsert). encoding/json's reflection over these, with the
// map sorting and a time.Time marshaller per timestamp, was 7% of flowd's
// CPU in the 3-step chain (README "Round five"). What they write means
// what json.Marshal of the storage types means (encode_test.go holds them
// to it: updateRecord there, stepStateDoc, attemptRow); the step numbers
// are in numeric order rather than encoding/json's order of strings, which
// jsonb does not keep anyway.

// errNotJSON is a raw JSON field that is not JSON. The documents' raw
// fields are made by flowd, so it does not happen; if it did, the commit
// fails with it rather than storing a document PostgreSQL would refuse.
var errNotJSON = errors.New("is not JSON")

// appendArray appends xs as a JSON array, each element by each.
func appendArray[T any](b []byte, xs []T, each func([]byte, *T) ([]byte, error)) ([]byte, error) {
	b = append(b, '[')
	for i := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = each(b, &xs[i]); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

// appendUpdates appends updates as the JSON array of update records.
func appendUpdates(b []byte, updates []flow.ExecutionUpdate) ([]byte, error) {
	return appendArray(b, updates, appendUpdate)
}

// appendUpdate appends one update record.
func appendUpdate(b []byte, u *flow.ExecutionUpdate) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendUUID(b, u.ID)
	b = append(b, `,"status":`...)
	b = jsonstr.Append(b, u.Status)
	b = append(b, `,"attempt_number":`...)
	b = strconv.AppendInt(b, int64(u.AttemptNumber), 10)
	b = append(b, `,"steps":`...)
	var err error
	if b, err = appendSteps(b, u.Steps); err != nil {
		return nil, fmt.Errorf("execution %s: %w", u.ID, err)
	}
	b = append(b, `,"error_message":`...)
	b = appendOptString(b, u.ErrorMessage)
	b = append(b, `,"executed_at":`...)
	b = appendOptTime(b, u.ExecutedAt)
	b = append(b, `,"next_retry_at":`...)
	b = appendOptTime(b, u.NextRetryAt)
	b = append(b, `,"finished_at":`...)
	b = appendOptTime(b, u.FinishedAt)
	if len(u.Records) > 0 {
		b = append(b, `,"records":`...)
		if b, err = appendRaw(b, u.Records); err != nil {
			return nil, fmt.Errorf("execution %s: records %w", u.ID, err)
		}
	}
	return append(b, '}'), nil
}

// appendSteps appends the executions.steps document of steps, in step
// order; no map is {} (the column is NOT NULL).
func appendSteps(b []byte, steps map[int]*flow.StepState) ([]byte, error) {
	var buf [16]int
	keys := buf[:0]
	for n := range steps {
		keys = append(keys, n)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, n := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, `":`...)
		st := steps[n]
		if st == nil {
			b = append(b, "null"...)
			continue
		}
		b = append(b, `{"status":`...)
		b = jsonstr.Append(b, st.Status)
		b = append(b, `,"attempts":`...)
		b = strconv.AppendInt(b, int64(st.Attempts), 10)
		if st.FirstStartedAt != nil {
			b = append(b, `,"first_started_at":`...)
			b = appendTime(b, *st.FirstStartedAt)
		}
		if st.NextAttemptAt != nil {
			b = append(b, `,"next_attempt_at":`...)
			b = appendTime(b, *st.NextAttemptAt)
		}
		if st.FinishedAt != nil {
			b = append(b, `,"finished_at":`...)
			b = appendTime(b, *st.FinishedAt)
		}
		if st.Error != "" {
			b = append(b, `,"error":`...)
			b = jsonstr.Append(b, st.Error)
		}
		if len(st.Vars) > 0 {
			b = append(b, `,"vars":`...)
			var err error
			if b, err = appendRaw(b, st.Vars); err != nil {
				return nil, fmt.Errorf("step %d: vars %w", n, err)
			}
		}
		if st.Permanent {
			b = append(b, `,"permanent":true`...)
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// appendAttempts appends attempts as the JSON array of attempt rows: no
// headers and no extracted variables are stored as {}.
func appendAttempts(b []byte, attempts []flow.StepAttempt) ([]byte, error) {
	return appendArray(b, attempts, appendAttempt)
}

// appendAttempt appends one attempt row.
func appendAttempt(b []byte, a *flow.StepAttempt) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendUUID(b, a.ID)
	b = append(b, `,"execution_id":`...)
	b = appendUUID(b, a.ExecutionID)
	b = append(b, `,"step_number":`...)
	b = strconv.AppendInt(b, int64(a.StepNumber), 10)
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(a.Attempt), 10)
	b = append(b, `,"execution_attempt":`...)
	b = strconv.AppendInt(b, int64(a.ExecutionAttempt), 10)
	b = append(b, `,"outcome":`...)
	b = jsonstr.Append(b, a.Outcome)
	b = append(b, `,"request_method":`...)
	b = jsonstr.Append(b, a.RequestMethod)
	b = append(b, `,"request_url":`...)
	b = jsonstr.Append(b, a.RequestURL)
	b = append(b, `,"request_headers":`...)
	b = appendHeaders(b, a.RequestHeaders)
	b = append(b, `,"request_body":`...)
	b = jsonstr.Append(b, a.RequestBody)
	b = append(b, `,"response_status":`...)
	if a.ResponseStatus == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, int64(*a.ResponseStatus), 10)
	}
	b = append(b, `,"response_headers":`...)
	b = appendHeaders(b, a.ResponseHeaders)
	b = append(b, `,"response_body":`...)
	b = jsonstr.Append(b, a.ResponseBody)
	b = append(b, `,"response_truncated":`...)
	b = strconv.AppendBool(b, a.ResponseTruncated)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendInt(b, a.DurationMS, 10)
	b = append(b, `,"error":`...)
	b = jsonstr.Append(b, a.Error)
	b = append(b, `,"extracted":`...)
	if len(a.Extracted) == 0 {
		b = append(b, "{}"...)
	} else {
		var err error
		if b, err = appendRaw(b, a.Extracted); err != nil {
			return nil, fmt.Errorf("attempt %s: extracted %w", a.ID, err)
		}
	}
	b = append(b, `,"worker_id":`...)
	b = jsonstr.Append(b, a.WorkerID)
	b = append(b, `,"started_at":`...)
	b = appendTime(b, a.StartedAt)
	return append(b, '}'), nil
}

// appendHeaders appends h as a JSON object of strings ({} for none), in
// the order of its keys as encoding/json writes it: two keys that are
// different invalid UTF-8 both become U+FFFD, and which of them jsonb
// keeps (the last) must not depend on the map's order.
func appendHeaders(b []byte, h map[string]string) []byte {
	var buf [16]string
	keys := buf[:0]
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, k)
		b = append(b, ':')
		b = jsonstr.Append(b, h[k])
	}
	return append(b, '}')
}

// appendUUID appends id as a JSON string in its canonical form.
func appendUUID(b []byte, id uuid.UUID) []byte {
	var s [36]byte
	hex.Encode(s[0:8], id[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], id[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], id[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], id[8:10])
	s[23] = '-'
	hex.Encode(s[24:], id[10:])
	b = append(b, '"')
	b = append(b, s[:]...)
	return append(b, '"')
}

// appendTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds).
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendOptTime appends t, or null.
func appendOptTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return appendTime(b, *t)
}

// appendOptString appends s, or null.
func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return jsonstr.Append(b, *s)
}

// appendRaw appends raw, a JSON value, as it is.
func appendRaw(b []byte, raw json.RawMessage) ([]byte, error) {
	if !gjson.ValidBytes(raw) {
		return nil, errNotJSON
	}
	return append(b, raw...), nil
}
