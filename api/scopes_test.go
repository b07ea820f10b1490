package api_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/store"
)

// tokenAnswer is the data of POST /v1/tokens; the other token routes
// answer it without the secret.
type tokenAnswer = api.TokenForTest

// newToken makes, as admin, a token of admin's company from body (POST
// /v1/tokens), and returns it and a tenant using it.
func newToken(t *testing.T, env *flowdtest.Env, admin *flowdtest.Tenant, body map[string]any) (*tokenAnswer, *flowdtest.Tenant) {
	t.Helper()
	r := env.Do(t, admin, "POST", "/v1/tokens", body)
	if r.Code != http.StatusCreated {
		t.Fatalf("create token %v: %d %s", body, r.Code, r.Raw)
	}
	var tok tokenAnswer
	r.Decode(t, &tok)
	return &tok, &flowdtest.Tenant{CompanyID: admin.CompanyID, UserID: tok.UserID, Token: tok.Token}
}

// scopedTenants returns a tenant per scope, all of one company.
func scopedTenants(t *testing.T, env *flowdtest.Env) map[auth.Scope]*flowdtest.Tenant {
	t.Helper()
	admin := env.NewTenant(t)
	out := map[auth.Scope]*flowdtest.Tenant{}
	for _, sc := range auth.Scopes {
		_, out[sc] = newToken(t, env, admin, map[string]any{"name": string(sc), "scope": string(sc)})
	}
	return out
}

// TestScopeMatrix sends every route of the route table that takes a token
// with a token of each scope: a scope below the route's answers 403 naming
// "scope" and the scope needed; the others get past the check (whatever
// the handler then says of a random id or an empty body, never 401 or
// 403). A new route is covered as soon as it is in the table.
func TestScopeMatrix(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tenants := scopedTenants(t, b.env)
	param := regexp.MustCompile(`\{[^}]+\}`)
	tried := 0
	for _, rt := range api.RoutesForTest() {
		if rt.Public {
			continue
		}
		need, err := auth.ParseScope(rt.Scope)
		if err != nil {
			t.Errorf("%s %s: scope column %q: %v", rt.Method, rt.Path, rt.Scope, err)
			continue
		}
		path := param.ReplaceAllString(rt.Path, uuid.NewString())
		for _, sc := range auth.Scopes {
			// An empty body and a random id break the document on purpose.
			r := b.env.DoInvalid(t, tenants[sc], rt.Method, path, nil)
			tried++
			if !sc.Allows(need) {
				if r.Code != http.StatusForbidden || len(r.Errors) != 1 || r.Errors[0].Field != "scope" ||
					!strings.Contains(r.Errors[0].Message, "scope "+string(need)) {
					t.Errorf("%s %s with a %s token: want 403 naming scope %s, got %d %s", rt.Method, rt.Path, sc, need, r.Code, r.Raw)
				}
				continue
			}
			if r.Code == http.StatusForbidden || r.Code == http.StatusUnauthorized || r.Code >= 500 {
				t.Errorf("%s %s with a %s token (route needs %s): got %d %s", rt.Method, rt.Path, sc, need, r.Code, r.Raw)
			}
		}
	}
	if tried < 3*15 {
		t.Errorf("only %d requests; want every token route (15 at least) with each of 3 scopes", tried)
	}
}

// TestRouteScopesFollowSpec: the route table's scope column follows SPEC
// "Tokens, scopes and audit": every GET is read (the token list is admin);
// triggering, publishing events, and cancelling and retrying executions is
// trigger; everything else is admin. A route added to the table must fit.
func TestRouteScopesFollowSpec(t *testing.T) {
	t.Parallel()
	for _, rt := range api.RoutesForTest() {
		if rt.Public {
			continue
		}
		want := auth.ScopeAdmin
		switch {
		case strings.HasPrefix(rt.Path, "/v1/tokens"):
		case rt.Method == "GET":
			want = auth.ScopeRead
		case rt.Method == "POST" && (strings.HasSuffix(rt.Path, "/trigger") || strings.HasSuffix(rt.Path, "/cancel") ||
			strings.HasSuffix(rt.Path, "/retry") || rt.Path == "/v1/events"):
			want = auth.ScopeTrigger
		}
		if rt.Scope != string(want) {
			t.Errorf("%s %s needs scope %q in the route table; SPEC says %s", rt.Method, rt.Path, rt.Scope, want)
		}
	}
}

// auditOf returns the audit entries of tn's company about target, newest
// first.
func auditOf(t *testing.T, env *flowdtest.Env, tn *flowdtest.Tenant, target uuid.UUID) []store.AuditEntry {
	t.Helper()
	r := env.Do(t, tn, "GET", "/v1/audit?target_id="+target.String(), nil)
	if r.Code != http.StatusOK {
		t.Fatalf("audit: %d %s", r.Code, r.Raw)
	}
	var list []store.AuditEntry
	r.Decode(t, &list)
	return list
}

// actions returns the actions of entries, oldest first.
func actions(entries []store.AuditEntry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[len(entries)-1-i] = e.Action
	}
	return out
}

// auditedActions makes each audited change once through the API, for
// tn, and returns the flow, execution and token they were made on.
type auditedTargets struct {
	flow, clone, exec, token uuid.UUID
	secrets                  []string // the secrets answered on the way
}

func makeAuditedChanges(t *testing.T, b *testBundle, tn *flowdtest.Tenant) *auditedTargets {
	t.Helper()
	target := flowdtest.NewTarget(t)
	gate := target.Gate(t, "/hold")
	r := b.env.Do(t, tn, "POST", "/v1/webhooks", simpleFlow("audited", target.URL+"/hold"))
	var created struct {
		flow.Flow
		HookSecret string `json:"hook_secret"`
	}
	r.Decode(t, &created)
	out := &auditedTargets{flow: created.ID, secrets: []string{created.HookSecret}}
	id := created.ID.String()
	def := simpleFlow("audited v2", target.URL+"/hold")
	def["signing_secret"] = "whsec_c2lnbmluZy1zZWNyZXQtb2YtdGhlLWF1ZGl0LXRlc3Q="
	out.secrets = append(out.secrets, def["signing_secret"].(string))
	for _, call := range []struct{ method, path string }{
		{"PUT", "/v1/webhooks/" + id}, {"POST", "/v1/integrations/" + id + "/stop"},
		{"POST", "/v1/integrations/" + id + "/resume"}, {"POST", "/v1/webhooks/" + id + "/hook-secret"},
		{"POST", "/v1/webhooks/" + id + "/signing-secret"},
	} {
		var body any
		if call.method == "PUT" {
			body = def
		}
		r := b.env.Do(t, tn, call.method, call.path, body)
		if r.Code != http.StatusOK {
			t.Fatalf("%s %s: %d %s", call.method, call.path, r.Code, r.Raw)
		}
		var answered struct {
			HookSecret    string `json:"hook_secret"`
			SigningSecret string `json:"signing_secret"`
		}
		r.Decode(t, &answered)
		if secret := answered.HookSecret + answered.SigningSecret; secret != "" {
			out.secrets = append(out.secrets, secret)
		}
	}
	exec := b.env.Trigger(t, tn, created.ID, nil)
	out.exec = exec.ID
	flowdtest.WaitFor(t, 20*time.Second, "the step to be held", func() bool { return gate.Arrived() > 0 })
	if r := b.env.Do(t, tn, "POST", "/v1/executions/"+exec.ID.String()+"/cancel", nil); r.Code != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.Code, r.Raw)
	}
	gate.Open()
	flowdtest.WaitFor(t, 20*time.Second, "the retry to be accepted", func() bool {
		// A cancelled execution may still be stopping (409); retry again.
		return b.env.DoInvalid(t, tn, "POST", "/v1/executions/"+exec.ID.String()+"/retry", nil).Code == http.StatusAccepted
	})
	clone := b.env.Do(t, tn, "POST", "/v1/integrations/"+id+"/clone", map[string]any{"flow_name": "audited copy"})
	var cloned flow.Flow
	clone.Decode(t, &cloned)
	out.clone = cloned.ID
	if r := b.env.Do(t, tn, "DELETE", "/v1/webhooks/"+id, nil); r.Code != http.StatusOK {
		t.Fatalf("delete: %d %s", r.Code, r.Raw)
	}
	tok, _ := newToken(t, b.env, tn, map[string]any{"name": "audited", "scope": "trigger"})
	out.secrets = append(out.secrets, tok.Token)
	out.token = tok.ID
	if r := b.env.Do(t, tn, "DELETE", "/v1/tokens/"+tok.ID.String(), nil); r.Code != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Code, r.Raw)
	}
	return out
}

// TestAuditEveryAction: each audited change writes one entry naming the
// action, the target, the token and user that made it and what changed,
// never a secret; the list is newest first and only the company's.
func TestAuditEveryAction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tn := b.env.NewTenant(t)
	got := makeAuditedChanges(t, b, tn)
	var tokens []tokenAnswer
	b.env.Do(t, tn, "GET", "/v1/tokens", nil).Decode(t, &tokens)
	self := tokens[len(tokens)-1].ID // the tenant's own, oldest

	want := map[uuid.UUID][]string{
		got.flow: {store.AuditFlowCreate, store.AuditFlowUpdate, store.AuditFlowStop, store.AuditFlowResume,
			store.AuditFlowHookSecretRotate, store.AuditFlowSigningSecretRotate, store.AuditFlowDelete},
		got.exec:  {store.AuditExecutionCancel, store.AuditExecutionRetry},
		got.clone: {store.AuditFlowClone},
		got.token: {store.AuditTokenCreate, store.AuditTokenRevoke},
	}
	for target, acts := range want {
		entries := auditOf(t, b.env, tn, target)
		if fmt.Sprint(actions(entries)) != fmt.Sprint(acts) {
			t.Errorf("audit of %s: %v, want %v", target, actions(entries), acts)
		}
		for _, e := range entries {
			if e.TargetID != target || e.ActorTokenID == nil || *e.ActorTokenID != self || e.ActorUserID == nil ||
				*e.ActorUserID != tn.UserID || e.Summary == "" || e.At.IsZero() {
				t.Errorf("entry %+v: want the target, the tenant's token and user, and a summary", e)
			}
			for _, secret := range got.secrets {
				if strings.Contains(e.Summary, secret) {
					t.Errorf("entry %s's summary holds a secret: %s", e.Action, e.Summary)
				}
			}
		}
	}
	update := auditOf(t, b.env, tn, got.flow)[5]
	if update.Action != store.AuditFlowUpdate || !strings.Contains(update.Summary, "name") ||
		!strings.Contains(update.Summary, "signing_secret") || strings.Contains(update.Summary, "logo") {
		t.Errorf("update summary %q: want the fields changed (name, signing_secret), not the others", update.Summary)
	}

	// Newest first over the whole company, in pages; nothing of it for
	// another company.
	var all []store.AuditEntry
	path := "/v1/audit?limit=4"
	for {
		r := b.env.Do(t, tn, "GET", path, nil)
		var page []store.AuditEntry
		r.Decode(t, &page)
		all = append(all, page...)
		if r.Next == nil {
			break
		}
		path = "/v1/audit?limit=4&cursor=" + *r.Next
	}
	// The oldest is the tenant's own token, made without a token (as the
	// CLI does): no actor.
	oldest := all[len(all)-1]
	if len(all) != 13 || all[0].Action != store.AuditTokenRevoke || oldest.Action != store.AuditTokenCreate ||
		oldest.ActorTokenID != nil || oldest.ActorUserID != nil {
		t.Errorf("paged audit: %v (oldest %+v); want 13 entries newest first, the oldest the tenant's token without an actor", actions(all), oldest)
	}
	other := b.env.NewTenant(t)
	if n := len(auditOf(t, b.env, other, got.flow)); n != 0 {
		t.Errorf("another company sees %d entries of the flow", n)
	}
	if r := b.env.DoInvalid(t, tn, "GET", "/v1/audit?target_id=nope", nil); r.Code != http.StatusBadRequest || r.Errors[0].Field != "target_id" {
		t.Errorf("bad target_id: want 400 naming target_id, got %d %s", r.Code, r.Raw)
	}
}

// failAtCommit makes every transaction that writes an audit entry about
// one of ids (as target, or named in its summary) fail at commit, after
// the entry and the change were written: a deferred constraint trigger.
func failAtCommit(t *testing.T, env *flowdtest.Env, ids ...uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	_, err := env.Pool.Exec(ctx, `
		CREATE TABLE IF NOT EXISTS audit_fail (id uuid PRIMARY KEY);
		CREATE OR REPLACE FUNCTION audit_fail() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF EXISTS (SELECT 1 FROM audit_fail f WHERE f.id = NEW.target_id OR strpos(NEW.summary, f.id::text) > 0) THEN
				RAISE EXCEPTION 'audit_fail: the change of % fails at commit', NEW.target_id;
			END IF;
			RETURN NULL;
		END $$;
		DO $$ BEGIN
			IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_fail') THEN
				CREATE CONSTRAINT TRIGGER audit_fail AFTER INSERT ON audit_log
					DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_fail();
			END IF;
		END $$;`)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := env.Pool.Exec(ctx, `INSERT INTO audit_fail (id) VALUES ($1)`, id); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAuditRolledBackWithFailedChange: when a change fails at commit, after
// its audit entry was written, neither the change nor the entry is kept.
func TestAuditRolledBackWithFailedChange(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tn := b.env.NewTenant(t)
	f := b.create(t, tn, simpleFlow("kept", b.target.URL))
	failed := b.env.Trigger(t, tn, b.create(t, tn, simpleFlow("fails", "http://127.0.0.1:1/down")).ID, nil)
	b.env.WaitExecution(t, tn, failed.ID, 20*time.Second, "failed")
	tok, _ := newToken(t, b.env, tn, map[string]any{"scope": "read"})
	marker := uuid.New()
	failAtCommit(t, b.env, f.ID, failed.ID, tok.ID, marker)
	before := b.env.Do(t, tn, "GET", "/v1/webhooks/"+f.ID.String(), nil).Raw
	auditBefore := len(auditOf(t, b.env, tn, f.ID))

	id := f.ID.String()
	for _, call := range []struct {
		method, path string
		body         any
	}{
		{"PUT", "/v1/webhooks/" + id, simpleFlow("changed", b.target.URL)},
		{"POST", "/v1/integrations/" + id + "/stop", nil},
		{"POST", "/v1/webhooks/" + id + "/hook-secret", nil},
		{"DELETE", "/v1/webhooks/" + id, nil},
		{"POST", "/v1/webhooks", simpleFlow("new "+marker.String(), b.target.URL)},
		{"POST", "/v1/executions/" + failed.ID.String() + "/retry", nil},
		{"DELETE", "/v1/tokens/" + tok.ID.String(), nil},
	} {
		if r := b.env.Do(t, tn, call.method, call.path, call.body); r.Code != http.StatusInternalServerError {
			t.Errorf("%s %s failing at commit: want 500, got %d %s", call.method, call.path, r.Code, r.Raw)
		}
	}
	if after := b.env.Do(t, tn, "GET", "/v1/webhooks/"+id, nil).Raw; string(after) != string(before) {
		t.Errorf("the flow changed:\nbefore %s\nafter  %s", before, after)
	}
	var n int
	if err := b.env.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM flows WHERE company_id = $1) +
		(SELECT count(*) FROM audit_log WHERE company_id = $1) + (SELECT count(*) FROM api_tokens WHERE id = $2 AND revoked_at IS NOT NULL)`,
		tn.CompanyID, tok.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	// Two flows, and the entries of their creation and of the two tokens'.
	if n != 2+4 || len(auditOf(t, b.env, tn, f.ID)) != auditBefore {
		t.Errorf("%d flows, audit entries and revocations; want 6 (nothing of the failed changes)", n)
	}
	if x := b.env.WaitExecution(t, tn, failed.ID, time.Second, "failed"); x.AttemptNumber != failed.AttemptNumber {
		t.Errorf("the failed execution was retried: attempt %d", x.AttemptNumber)
	}
}
