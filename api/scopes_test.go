package api_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/internal/flowdtest"
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
