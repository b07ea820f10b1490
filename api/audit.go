package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/store"
)

// Bounds of the audit list.
const (
	AuditListLimitDefault = 50
	AuditListLimitMax     = 200
)

// note is what the audit entry of a change says (store.AuditEntry).
type note struct {
	action, targetType string
	targetID           uuid.UUID
	summary            string
}

// audited runs change and writes the audit entry it notes, made by the
// request's principal, in one transaction: both commit or neither does.
func audited[T any](s *Server, r *http.Request, change func(tx *store.Store) (T, note, error)) (T, error) {
	p := principalFrom(r.Context())
	var out T
	err := s.store.InTx(r.Context(), func(tx *store.Store) error {
		v, n, err := change(tx)
		if err != nil {
			return err
		}
		out = v
		return tx.AuditInsert(r.Context(), auth.Audit(p.CompanyID, p, n.action, n.targetType, n.targetID, n.summary))
	})
	return out, err
}

// auditedOnID is onID for an audited change of the resource the path
// names.
func auditedOnID[T any](s *Server, w http.ResponseWriter, r *http.Request, code int, msg string,
	act func(ctx context.Context, tx *store.Store, companyID, id uuid.UUID) (T, note, error)) error {
	return onID(w, r, code, msg, func(ctx context.Context, companyID, id uuid.UUID) (T, error) {
		return audited(s, r, func(tx *store.Store) (T, note, error) { return act(ctx, tx, companyID, id) })
	})
}

// flowNote is the note of a change of a flow: its action and "flow
// "<name>" <what>".
func flowNote(action string, f *flow.Flow, what string) note {
	return note{action: action, targetType: store.AuditTargetFlow, targetID: f.ID, summary: fmt.Sprintf("flow %q %s", f.Name, what)}
}

// flowVolatile are the fields of a flow that change without an edit
// naming them, left out of an update's summary.
var flowVolatile = []string{"id", "created_by", "company_id", "status", "created_at", "updated_at",
	"executions", "deleted_at", "version", "steps"}

// changedFields names what an edit changed between two states of a flow:
// top-level fields, and steps by number (added, removed or changed).
// Names only, never values: a value may be a secret.
func changedFields(before, after *flow.Flow, in *flow.FlowInput) []string {
	b, a := jsonFields(before), jsonFields(after)
	var out []string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		if !slices.Contains(flowVolatile, k) && !bytes.Equal(a[k], b[k]) {
			out = append(out, k)
		}
	}
	if in.SigningSecret != nil && *in.SigningSecret != "" && !slices.Contains(out, "has_signing_secret") {
		out = append(out, "signing_secret")
	}
	// Answers hide secret values (null), so a changed secret shows only in
	// the stored values, which FlowGet has opened on both sides.
	if !slices.Contains(out, "predefinedVariables") && !slices.EqualFunc(before.PredefinedVariables, after.PredefinedVariables, samePredefined) {
		out = append(out, "predefinedVariables")
	}
	bs, as := stepsByNumber(before), stepsByNumber(after)
	numbers := slices.Sorted(maps.Keys(bs))
	for n := range as {
		if bs[n] == nil {
			numbers = append(numbers, n)
		}
	}
	slices.Sort(numbers)
	for _, n := range numbers {
		step := "steps[" + strconv.Itoa(n) + "]"
		switch {
		case bs[n] == nil:
			out = append(out, step+" added")
		case as[n] == nil:
			out = append(out, step+" removed")
		case !bytes.Equal(bs[n], as[n]):
			out = append(out, step)
		}
	}
	return out
}

// samePredefined reports whether two predefined variables are equal,
// values included (a secret's too).
func samePredefined(a, b flow.PredefinedVariable) bool {
	return a.Name == b.Name && a.Secret == b.Secret && bytes.Equal(a.Value, b.Value)
}

// stepsByNumber is the JSON of each step of a flow by step number, without
// what every save changes (ids, times).
func stepsByNumber(f *flow.Flow) map[int][]byte {
	m := map[int][]byte{}
	for _, st := range f.Steps {
		st.ID, st.CreatedAt, st.UpdatedAt, st.DeletedAt = uuid.Nil, time.Time{}, time.Time{}, nil
		m[st.StepNumber], _ = json.Marshal(st)
	}
	return m
}

// jsonFields is the top-level fields of v's JSON.
func jsonFields(v any) map[string]json.RawMessage {
	raw, _ := json.Marshal(v)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	return m
}

// updateSummary is the summary of a flow update.
func updateSummary(before, after *flow.Flow, in *flow.FlowInput) string {
	changed := changedFields(before, after, in)
	if len(changed) == 0 {
		return fmt.Sprintf("saved as version %d, nothing changed", after.Version)
	}
	return fmt.Sprintf("updated to version %d: %s", after.Version, strings.Join(changed, ", "))
}

// GET /v1/audit?limit=&cursor=&target_id=
func (s *Server) auditList(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	q := r.URL.Query()
	limit, err := queryLimit(q.Get("limit"), AuditListLimitDefault, AuditListLimitMax)
	if err != nil {
		return err
	}
	var target uuid.UUID
	if v := q.Get("target_id"); v != "" {
		if target, err = uuid.Parse(v); err != nil {
			return badRequest("target_id", "must be a UUID")
		}
	}
	after, err := queryCursor(q.Get("cursor"))
	if err != nil {
		return err
	}
	list, next, err := s.store.AuditList(r.Context(), p.CompanyID, target, limit, after)
	if err != nil {
		return err
	}
	if list == nil {
		list = []*store.AuditEntry{}
	}
	writePage(w, fmt.Sprintf("%d audit entries", len(list)), list, next)
	return nil
}
