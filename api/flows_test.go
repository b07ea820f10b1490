package api_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/internal/testdb"
	"github.com/flowd/flowd/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

type testBundle struct {
	env    *flowdtest.Env
	tenant *flowdtest.Tenant
	target *flowdtest.Target
}

// setup returns the package's flowd, a fresh company, and a target
// answering the seed flow's two steps (/step/1, /step/2) and anything else
// with {"ok": true, ...}.
func setup(t *testing.T) *testBundle {
	t.Helper()
	env := flowdtest.Shared(t)
	target := flowdtest.NewTarget(t)
	target.JSON("/step/1", `{"success": true, "result": {"id": "19x1"}}`)
	target.JSON("/step/2", `{"success": true, "result": [{"id": "12x5", "firstname": "Ann", "lastname": "Lee", "email": "ann@x.io", "mobile": "555"}]}`)
	target.JSON("", `{"ok": true, "token": "t-1", "id": 7}`)
	return &testBundle{env: env, tenant: env.NewTenant(t), target: target}
}

// seedFlow returns the seed's example flow definition with its step URLs
// pointing at the bundle's target.
func (b *testBundle) seedFlow(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("../flow/testdata/seed_flow.json")
	if err != nil {
		t.Fatalf("read seed flow: %v", err)
	}
	var f map[string]any
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("decode seed flow: %v", err)
	}
	for i, st := range f["steps"].([]any) {
		st.(map[string]any)["webhook_url"] = fmt.Sprintf("%s/step/%d", b.target.URL, i+1)
	}
	return f
}

func simpleFlow(name, url string) map[string]any {
	return map[string]any{
		"name": name,
		"steps": []any{map[string]any{
			"step_number": 1, "webhook_url": url, "webhook_method": "POST",
			"webhook_body": map[string]any{"hello": "world"},
		}},
	}
}

func (b *testBundle) create(t *testing.T, tn *flowdtest.Tenant, body any) *flow.Flow {
	t.Helper()
	return b.env.CreateFlow(t, tn, body)
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

// nullable are the seed's fields that are null until they apply.
var nullable = map[string]bool{
	"deleted_at": true, "next_retry_at": true, "finished_at": true, "error_message": true,
	"executed_at": true, "depends_on_step": true, "webhook_body": true,
}

// compareShape reports every key of want missing from got or of another
// JSON type, recursing into objects and the first element of arrays.
func compareShape(path string, want, got any) []string {
	var diffs []string
	wt, gt := jsonType(want), jsonType(got)
	if wt != gt {
		key := path[strings.LastIndex(path, ".")+1:]
		if !(gt == "null" && nullable[key]) && !(key == "webhook_body" || key == "flow_mapping" && gt == "object") {
			diffs = append(diffs, fmt.Sprintf("%s: want %s, got %s", path, wt, gt))
		}
		return diffs
	}
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			diffs = append(diffs, compareShape(path+"."+k, wv, gv)...)
		}
	case []any:
		g := got.([]any)
		if len(w) > 0 {
			if len(g) == 0 {
				return append(diffs, fmt.Sprintf("%s: empty, the seed shows elements", path))
			}
			diffs = append(diffs, compareShape(path+"[0]", w[0], g[0])...)
		}
	}
	return diffs
}

var (
	uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	portRE = regexp.MustCompile(`127\.0\.0\.1:\d+`)
)

func TestListMatchesSeed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.create(t, b.tenant, b.seedFlow(t))
	exec := b.env.Trigger(t, b.tenant, f.ID, nil)
	done := b.env.WaitExecution(t, b.tenant, exec.ID, 20e9, "success", "failed")
	if done.Status != "success" {
		t.Fatalf("seed flow execution: %s %v", done.Status, done.ErrorMessage)
	}
	var records []map[string]any
	_ = json.Unmarshal(done.Records, &records)
	wantRecords := []map[string]any{{"email": "ann@x.io", "first_name": "Ann", "last_name": "Lee", "phone": "555", "vtiger_id": "12x5"}}
	if d := cmp.Diff(wantRecords, records); d != "" {
		t.Errorf("records brought in (-want +got):\n%s", d)
	}

	list := b.env.Do(t, b.tenant, "GET", "/v1/webhooks", nil)
	if list.Code != http.StatusOK {
		t.Fatalf("list: %d %s", list.Code, list.Raw)
	}
	var got, want map[string]any
	if err := json.Unmarshal(list.Raw, &got); err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile("testdata/seed_response.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(seed, &want); err != nil {
		t.Fatal(err)
	}
	if diffs := compareShape("$", want, got); len(diffs) > 0 {
		t.Errorf("GET /v1/webhooks differs from the seed page:\n%s", strings.Join(diffs, "\n"))
	}
	if got["status"] != "ok" || len(got["data"].([]any)) != 1 {
		t.Fatalf("want one flow in an ok envelope, got %s", list.Raw)
	}

	// The whole answer, ids and times normalised, is a golden file.
	norm := uuidRE.ReplaceAllString(string(list.Raw), "UUID")
	norm = timeRE.ReplaceAllString(norm, "TIME")
	norm = portRE.ReplaceAllString(norm, "127.0.0.1:PORT")
	var pretty any
	_ = json.Unmarshal([]byte(norm), &pretty)
	out, _ := json.MarshalIndent(pretty, "", "  ")
	golden := "testdata/webhooks_list.golden.json"
	if *update {
		if err := os.WriteFile(golden, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantGolden, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if d := cmp.Diff(strings.TrimSpace(string(wantGolden)), strings.TrimSpace(string(out))); d != "" {
		t.Errorf("GET /v1/webhooks golden mismatch (-want +got):\n%s", d)
	}
}

func TestAuthRequired(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name   string
		header string
	}{
		{"no header", ""},
		{"wrong token", "Bearer fd_notatoken"},
		{"wrong scheme", "Basic " + b.tenant.Token},
		{"empty bearer", "Bearer "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var hdr []string
			if tc.header != "" {
				hdr = []string{"Authorization", tc.header}
			}
			r := b.env.DoInvalid(t, nil, "GET", "/v1/webhooks", nil, hdr...)
			if r.Code != http.StatusUnauthorized || r.Status != "error" || r.Message == "" {
				t.Errorf("want 401 error envelope, got %d %s", r.Code, r.Raw)
			}
			if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate %q, want a Bearer challenge", got)
			}
		})
	}
	if r := b.env.Do(t, b.tenant, "GET", "/v1/webhooks", nil); r.Code != http.StatusOK {
		t.Errorf("valid token: %d %s", r.Code, r.Raw)
	}
}

func TestTokenStoredHashed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var n int
	err := b.env.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM api_tokens WHERE company_id = $1 AND token_hash = $2`,
		b.tenant.CompanyID, auth.HashToken(b.tenant.Token)).Scan(&n)
	if err != nil || n != 1 {
		t.Fatalf("token row by hash: n=%d err=%v", n, err)
	}
	err = b.env.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM api_tokens WHERE position($1::bytea in token_hash) > 0`, []byte(b.tenant.Token)).Scan(&n)
	if err != nil || n != 0 {
		t.Fatalf("plain token found in api_tokens: n=%d err=%v", n, err)
	}
}

func TestCrossCompanyIsNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := b.env.NewTenant(t)
	f := b.create(t, b.tenant, simpleFlow("mine", b.target.URL))
	id := f.ID.String()
	for _, tc := range []struct{ method, path string }{
		{"GET", "/v1/webhooks/" + id},
		{"PUT", "/v1/webhooks/" + id},
		{"DELETE", "/v1/webhooks/" + id},
		{"POST", "/v1/webhooks/" + id + "/trigger"},
		{"GET", "/v1/webhooks/" + id + "/executions"},
		{"POST", "/v1/integrations/" + id + "/clone"},
		{"POST", "/v1/integrations/" + id + "/stop"},
		{"POST", "/v1/integrations/" + id + "/resume"},
	} {
		var body any
		if tc.method == "PUT" {
			body = simpleFlow("stolen", b.target.URL)
		}
		r := b.env.Do(t, other, tc.method, tc.path, body)
		if r.Code != http.StatusNotFound || r.Status != "error" {
			t.Errorf("%s %s as another company: want 404, got %d %s", tc.method, tc.path, r.Code, r.Raw)
		}
	}
	if r := b.env.Do(t, other, "GET", "/v1/webhooks", nil); !strings.Contains(string(r.Raw), `"data":[]`) {
		t.Errorf("other company's list shows flows: %s", r.Raw)
	}
	got := b.env.Do(t, b.tenant, "GET", "/v1/webhooks/"+id, nil)
	var after flow.Flow
	got.Decode(t, &after)
	if after.Name != "mine" || after.Status != "scheduled" || after.Version != 1 || len(after.Executions) != 0 {
		t.Errorf("flow changed by another company: %s", got.Raw)
	}
}

func TestWorkspaceFilter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := simpleFlow("in default", b.target.URL)
	c := simpleFlow("in sales", b.target.URL)
	c["workspace_id"] = "sales"
	b.create(t, b.tenant, a)
	b.create(t, b.tenant, c)
	for _, tc := range []struct{ query, want string }{
		{"", "in default"},
		{"?workspace_id=default", "in default"},
		{"?workspace_id=sales", "in sales"},
	} {
		var flows []flow.Flow
		b.env.Do(t, b.tenant, "GET", "/v1/webhooks"+tc.query, nil).Decode(t, &flows)
		if len(flows) != 1 || flows[0].Name != tc.want {
			t.Errorf("GET /v1/webhooks%s: want [%s], got %+v", tc.query, tc.want, flows)
		}
	}
	var none []flow.Flow
	b.env.Do(t, b.tenant, "GET", "/v1/webhooks?workspace_id=nowhere", nil).Decode(t, &none)
	if len(none) != 0 {
		t.Errorf("unknown workspace: want none, got %d", len(none))
	}
}

// The list endpoint and flow validation agree on workspace_id: at most
// flow.MaxWorkspaceIDLen characters (not bytes), so every workspace a flow
// can be saved in can be listed, and a longer one is refused by both,
// naming the field.
func TestWorkspaceIDLimitAgrees(t *testing.T) {
	t.Parallel()
	b := setup(t)
	longest := strings.Repeat("é", flow.MaxWorkspaceIDLen) // 2 bytes a character
	tooLong := longest + "é"

	f := simpleFlow("longest workspace", b.target.URL)
	f["workspace_id"] = longest
	b.create(t, b.tenant, f)
	var flows []flow.Flow
	r := b.env.Do(t, b.tenant, "GET", "/v1/webhooks?workspace_id="+url.QueryEscape(longest), nil)
	r.Decode(t, &flows)
	if r.Code != http.StatusOK || len(flows) != 1 || flows[0].WorkspaceID != longest {
		t.Errorf("list of a %d-character workspace: %d, %d flows: %s", flow.MaxWorkspaceIDLen, r.Code, len(flows), r.Raw)
	}

	f["workspace_id"] = tooLong
	r = b.env.DoInvalid(t, b.tenant, "POST", "/v1/webhooks", f)
	if r.Code != http.StatusUnprocessableEntity || len(r.Errors) != 1 || r.Errors[0].Field != "workspace_id" {
		t.Errorf("create in a %d-character workspace: want 422 naming workspace_id, got %d %s", flow.MaxWorkspaceIDLen+1, r.Code, r.Raw)
	}
	r = b.env.DoInvalid(t, b.tenant, "GET", "/v1/webhooks?workspace_id="+url.QueryEscape(tooLong), nil)
	if r.Code != http.StatusBadRequest || len(r.Errors) != 1 || r.Errors[0].Field != "workspace_id" ||
		!strings.Contains(r.Errors[0].Message, fmt.Sprint(flow.MaxWorkspaceIDLen)) {
		t.Errorf("list of a %d-character workspace: want 400 naming workspace_id and the limit, got %d %s", flow.MaxWorkspaceIDLen+1, r.Code, r.Raw)
	}
}

func TestSoftDelete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.create(t, b.tenant, simpleFlow("doomed", b.target.URL))
	path := "/v1/webhooks/" + f.ID.String()
	r := b.env.Do(t, b.tenant, "DELETE", path, nil)
	if r.Code != http.StatusOK {
		t.Fatalf("delete: %d %s", r.Code, r.Raw)
	}
	var got flow.Flow
	b.env.Do(t, b.tenant, "GET", path, nil).Decode(t, &got)
	if got.Status != "deleted" || got.DeletedAt == nil || len(got.Steps) != 1 {
		t.Errorf("deleted flow: want status deleted, deleted_at and steps kept; got %+v", got)
	}
	var flows []flow.Flow
	b.env.Do(t, b.tenant, "GET", "/v1/webhooks", nil).Decode(t, &flows)
	if len(flows) != 0 {
		t.Errorf("deleted flow still listed: %+v", flows)
	}
	if r := b.env.Do(t, b.tenant, "POST", path+"/trigger", nil); r.Code != http.StatusConflict || !strings.Contains(r.Message, "deleted") {
		t.Errorf("trigger deleted flow: want 409 naming deleted, got %d %s", r.Code, r.Raw)
	}
	if r := b.env.Do(t, b.tenant, "PUT", path, simpleFlow("again", b.target.URL)); r.Code != http.StatusConflict {
		t.Errorf("edit deleted flow: want 409, got %d %s", r.Code, r.Raw)
	}
	if r := b.env.Do(t, b.tenant, "POST", "/v1/integrations/"+f.ID.String()+"/resume", nil); r.Code != http.StatusConflict {
		t.Errorf("resume deleted flow: want 409, got %d %s", r.Code, r.Raw)
	}
}

func TestReplaceKeepsStepIdentity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := simpleFlow("v1", b.target.URL)
	f := b.create(t, b.tenant, def)
	def["name"] = "v2"
	def["steps"] = append(def["steps"].([]any), map[string]any{
		"step_number": 2, "webhook_url": b.target.URL + "/two", "webhook_method": "get", "depends_on_step": 1,
	})
	r := b.env.Do(t, b.tenant, "PUT", "/v1/webhooks/"+f.ID.String(), def)
	if r.Code != http.StatusOK {
		t.Fatalf("replace: %d %s", r.Code, r.Raw)
	}
	var got flow.Flow
	r.Decode(t, &got)
	if got.Name != "v2" || got.Version != 2 || len(got.Steps) != 2 || got.Steps[0].ID != f.Steps[0].ID || got.Steps[1].WebhookMethod != "GET" {
		t.Errorf("replace: want v2, version 2, step 1 keeping its id, method upper-cased; got %s", r.Raw)
	}
}

func TestCloneTemplate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tpl := simpleFlow("VTIGER template", b.target.URL+"/{{region}}")
	tpl["is_template"] = true
	tpl["tag_name"] = "tpl"
	tpl["predefinedVariables"] = []any{
		map[string]any{"name": "region", "value": "eu"},
		map[string]any{"name": "api_user", "value": "admin"},
	}
	tpl["variables"] = []any{map[string]any{"name": "token", "location": "token", "stepId": 1, "type": "body", "dataType": "string"}}
	src := b.create(t, b.tenant, tpl)
	if r := b.env.Do(t, b.tenant, "POST", "/v1/webhooks/"+src.ID.String()+"/trigger", nil); r.Code != http.StatusConflict || !strings.Contains(r.Message, "template") {
		t.Errorf("trigger template: want 409 naming template, got %d %s", r.Code, r.Raw)
	}
	r := b.env.Do(t, b.tenant, "POST", "/v1/integrations/"+src.ID.String()+"/clone", map[string]any{
		"flow_name": "VTIGER BRING CONTACTS", "tag_name": "lead1", "category_name": "all leads",
		"dynamicVariables": map[string]any{"region": "us"},
	})
	if r.Code != http.StatusCreated {
		t.Fatalf("clone: %d %s", r.Code, r.Raw)
	}
	var c flow.Flow
	r.Decode(t, &c)
	if c.ID == src.ID || c.Name != "VTIGER BRING CONTACTS" || c.TagName != "lead1" || c.CategoryName != "all leads" ||
		c.IsTemplate || c.Status != "scheduled" || len(c.Executions) != 0 || len(c.Steps) != 1 || len(c.Variables) != 1 {
		t.Fatalf("clone: unexpected flow %s", r.Raw)
	}
	wantVars := []flow.PredefinedVariable{{Name: "region", Value: json.RawMessage(`"us"`)}, {Name: "api_user", Value: json.RawMessage(`"admin"`)}}
	if d := cmp.Diff(wantVars, c.PredefinedVariables); d != "" {
		t.Errorf("clone predefinedVariables (-want +got):\n%s", d)
	}
	if c.Steps[0].ID == src.Steps[0].ID || c.Steps[0].WebhookURL != src.Steps[0].WebhookURL {
		t.Errorf("clone steps: want copied with new ids, got %+v", c.Steps[0])
	}
	if r := b.env.DoInvalid(t, b.tenant, "POST", "/v1/integrations/"+src.ID.String()+"/clone", `{"flow_name": 5}`); r.Code != http.StatusUnprocessableEntity {
		t.Errorf("clone with a bad body: want 422, got %d %s", r.Code, r.Raw)
	}
}

func TestStopResume(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.create(t, b.tenant, simpleFlow("toggle", b.target.URL))
	id := f.ID.String()
	var got flow.Flow
	b.env.Do(t, b.tenant, "POST", "/v1/integrations/"+id+"/stop", nil).Decode(t, &got)
	if got.Status != "stopped" {
		t.Fatalf("stop: status %s", got.Status)
	}
	if r := b.env.Do(t, b.tenant, "POST", "/v1/webhooks/"+id+"/trigger", nil); r.Code != http.StatusConflict || !strings.Contains(r.Message, "stopped") {
		t.Errorf("trigger stopped flow: want 409 naming stopped, got %d %s", r.Code, r.Raw)
	}
	b.env.Do(t, b.tenant, "POST", "/v1/integrations/"+id+"/resume", nil).Decode(t, &got)
	if got.Status != "running" {
		t.Fatalf("resume: status %s", got.Status)
	}
	r := b.env.Do(t, b.tenant, "POST", "/v1/webhooks/"+id+"/trigger", nil)
	if r.Code != http.StatusAccepted {
		t.Fatalf("trigger resumed flow: %d %s", r.Code, r.Raw)
	}
}

func TestValidationRefusesAndWritesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name   string
		body   string
		code   int
		fields []string
	}{
		{"malformed", `{"name": `, 400, nil},
		{"not an object", `[1,2]`, 400, nil},
		{"empty", ``, 400, nil},
		{"bad method", `{"name":"x","steps":[{"step_number":1,"webhook_url":"https://a.io","webhook_method":"FETCH"}]}`, 422, []string{"steps[0].webhook_method"}},
		{"dangling dependency", `{"name":"x","steps":[{"step_number":1,"webhook_url":"https://a.io","webhook_method":"GET","depends_on_step":9}]}`, 422, []string{"steps[0].depends_on_step"}},
		{"bad unit and enum", `{"name":"x","retry_delay_unit":"weeks","flow_direction":"sideways","steps":[{"step_number":1,"webhook_url":"https://a.io","webhook_method":"GET"}]}`, 422, []string{"flow_direction", "retry_delay_unit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tn := b.env.NewTenant(t)
			r := b.env.DoInvalid(t, tn, "POST", "/v1/webhooks", tc.body)
			if r.Code != tc.code || r.Status != "error" {
				t.Fatalf("want %d error, got %d %s", tc.code, r.Code, r.Raw)
			}
			var fields []string
			for _, e := range r.Errors {
				fields = append(fields, e.Field)
			}
			sort.Strings(fields)
			if tc.fields != nil {
				if d := cmp.Diff(tc.fields, fields); d != "" {
					t.Errorf("error fields (-want +got):\n%s", d)
				}
			}
			var flows []flow.Flow
			b.env.Do(t, tn, "GET", "/v1/webhooks", nil).Decode(t, &flows)
			if len(flows) != 0 {
				t.Errorf("refused create wrote a flow")
			}
		})
	}
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	big := `{"name":"` + strings.Repeat("x", api.MaxBodyBytesDefault) + `"}`
	r := b.env.DoInvalid(t, b.tenant, "POST", "/v1/webhooks", big)
	if r.Code != http.StatusRequestEntityTooLarge || r.Status != "error" {
		t.Errorf("want 413, got %d %s", r.Code, r.Raw[:min(200, len(r.Raw))])
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := b.env.Do(t, nil, "GET", p, nil); r.Code != 200 || r.Status != "ok" {
			t.Errorf("%s: %d %s", p, r.Code, r.Raw)
		}
	}
}

// queryCounter counts the statements a pool runs, but those holding skip
// when it is set (before the pool is used).
type queryCounter struct {
	n atomic.Int64
	// skip are statements not counted (by a part of their text): the
	// token's last-use write always, which the authenticator runs in the
	// background once per token and minute, so that it may land inside a
	// later request's count on a slow machine.
	skip []string
}

func (c *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if !slices.ContainsFunc(c.skip, func(s string) bool { return strings.Contains(d.SQL, s) }) {
		c.n.Add(1)
	}
	return ctx
}
func (c *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// countedPool opens a pool on the database at url whose statements are
// counted; it is closed at the test's cleanup.
func countedPool(t *testing.T, url string) (*pgxpool.Pool, *queryCounter) {
	t.Helper()
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	counter := &queryCounter{skip: []string{"SET last_used_at = now()"}}
	pcfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, counter
}

func TestListQueryCountIsConstant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pool, counter := countedPool(t, testdb.URL(t))
	counted := flowdtest.NewServer(t, api.New(store.New(pool, testdb.Keys()), b.env.Sched, &api.Config{RateLimit: -1}).Handler())

	one, many := b.env.NewTenant(t), b.env.NewTenant(t)
	b.create(t, one, simpleFlow("only", b.target.URL))
	for i := range 200 {
		b.create(t, many, simpleFlow(fmt.Sprintf("flow %d", i), b.target.URL))
	}
	count := func(tn *flowdtest.Tenant, want int) int64 {
		counted.Do(t, tn, "GET", "/v1/webhooks", nil) // warm the token cache
		before := counter.n.Load()
		r := counted.Do(t, tn, "GET", "/v1/webhooks", nil)
		var flows []flow.Flow
		r.Decode(t, &flows)
		if len(flows) != want {
			t.Fatalf("want %d flows, got %d", want, len(flows))
		}
		return counter.n.Load() - before
	}
	n1, n200 := count(one, 1), count(many, 200)
	if n1 != n200 || n1 > 5 {
		t.Errorf("GET /v1/webhooks ran %d queries for 1 flow and %d for 200; want the same small number", n1, n200)
	}
}
