package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/internal/flowdtest"
)

var httpMethods = []string{"get", "put", "post", "delete", "patch", "options", "head", "trace"}

// openAPIDoc reads api/openapi.json.
func openAPIDoc(t *testing.T) (raw []byte, doc map[string]any) {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	return raw, doc
}

// operation is one documented method of one path.
type operation struct {
	key       string // "POST /v1/webhooks"
	public    bool   // security: []
	op        map[string]any
	pathItems map[string]any
}

func operations(t *testing.T, doc map[string]any) map[string]operation {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatal("openapi.json has no paths object")
	}
	ops := map[string]operation{}
	for path, item := range paths {
		item := item.(map[string]any)
		for _, m := range httpMethods {
			o, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			sec, hasSec := o["security"].([]any)
			key := strings.ToUpper(m) + " " + path
			ops[key] = operation{key: key, public: hasSec && len(sec) == 0, op: o, pathItems: item}
		}
	}
	return ops
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	_, doc := openAPIDoc(t)
	if v, _ := doc["openapi"].(string); !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(v) {
		t.Errorf("openapi is %q, want 3.1.x", v)
	}
	registered := map[string]bool{} // route -> public
	for _, rt := range api.RoutesForTest() {
		registered[rt.Method+" "+rt.Path] = rt.Public
	}
	documented := map[string]bool{}
	for key, o := range operations(t, doc) {
		documented[key] = o.public
	}
	if diff := cmp.Diff(registered, documented); diff != "" {
		t.Errorf("routes (value: public, no token) (-registered +documented):\n%s", diff)
	}
}

func TestOpenAPIOperations(t *testing.T) {
	t.Parallel()
	_, doc := openAPIDoc(t)
	ids := map[string]string{}
	param := regexp.MustCompile(`\{([^}]+)\}`)
	for key, o := range operations(t, doc) {
		id, _ := o.op["operationId"].(string)
		if id == "" {
			t.Errorf("%s has no operationId", key)
		} else if other, dup := ids[id]; dup {
			t.Errorf("%s and %s share operationId %s", key, other, id)
		}
		ids[id] = key
		responses, _ := o.op["responses"].(map[string]any)
		if len(responses) == 0 {
			t.Errorf("%s documents no responses", key)
		}
		if _, ok := responses["401"]; !o.public && !ok {
			t.Errorf("%s needs a token but does not document 401", key)
		}
		// Every {name} in the path is a documented path parameter.
		declared := map[string]bool{}
		var params []any
		if p, ok := o.pathItems["parameters"].([]any); ok {
			params = append(params, p...)
		}
		if p, ok := o.op["parameters"].([]any); ok {
			params = append(params, p...)
		}
		for _, p := range params {
			p := resolve(t, doc, p).(map[string]any)
			if p["in"] == "path" {
				declared[p["name"].(string)] = true
			}
		}
		for _, m := range param.FindAllStringSubmatch(key, -1) {
			if !declared[m[1]] {
				t.Errorf("%s: path parameter %q is not documented", key, m[1])
			}
		}
	}
}

// resolve follows a {"$ref": ...} object to what it names.
func resolve(t *testing.T, doc map[string]any, v any) any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	ref, ok := m["$ref"].(string)
	if !ok {
		return v
	}
	target, err := pointer(doc, ref)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	return resolve(t, doc, target)
}

// pointer resolves a local JSON reference ("#/components/schemas/Flow").
func pointer(doc map[string]any, ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("not a local reference")
	}
	var cur any = doc
	for _, tok := range strings.Split(rest, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q is inside a non-object", tok)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("%q does not exist", tok)
		}
	}
	return cur, nil
}

func TestOpenAPIRefsResolve(t *testing.T) {
	t.Parallel()
	_, doc := openAPIDoc(t)
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				refs = append(refs, ref)
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	if len(refs) == 0 {
		t.Fatal("no $ref at all: the walk is broken")
	}
	sort.Strings(refs)
	for _, ref := range refs {
		if _, err := pointer(doc, ref); err != nil {
			t.Errorf("$ref %s does not resolve: %v", ref, err)
		}
	}
}

// TestOpenAPIFlowSchema checks that the Flow schema has exactly the seed's
// fields plus flowd's additions.
func TestOpenAPIFlowSchema(t *testing.T) {
	t.Parallel()
	_, doc := openAPIDoc(t)
	flow, err := pointer(doc, "#/components/schemas/Flow/properties")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for k := range flow.(map[string]any) {
		got = append(got, k)
	}
	want := []string{"id", "created_by", "company_id", "workspace_id", "name", "logo", "retry_delay", "retry_delay_unit",
		"max_retries", "status", "created_at", "updated_at", "executions", "steps", "is_template", "flow_direction",
		"flow_mapping", "tag_name", "category_name", "deleted_at", "predefinedVariables", "variables",
		"schedule", "version", "has_signing_secret", "propagate_trace"}
	sort.Strings(got)
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Flow properties (-want +got):\n%s", diff)
	}
}

func TestOpenAPIServedWithoutToken(t *testing.T) {
	t.Parallel()
	env := flowdtest.Shared(t)
	raw, _ := openAPIDoc(t)
	resp, err := env.Client(t).Get(env.URL + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("GET /v1/openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !bytes.Equal(body.Bytes(), raw) {
		t.Errorf("the served document differs from api/openapi.json")
	}
}

// TestOpenAPIDocumentIsValid checks the document against the OpenAPI 3.1
// specification with an independent validator (libopenapi-validator).
func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	raw, _ := openAPIDoc(t)
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("build: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("%s", e.Error())
		}
	}
}

// TestOpenAPIDeclaresEveryAnswer checks that each operation declares the
// statuses its handler can answer, by the rules every handler follows:
// 500 anywhere (a panic is answered 500); 401 and 429 where a token is
// needed; 404 where the path names a resource by id; 400, 413 and 422 where
// a JSON body is read. Every error answer is an ErrorEnvelope, every 2xx an
// ok envelope. (The contract test catches what a rule misses: an answer
// with an undeclared status fails the test that caused it.)
func TestOpenAPIDeclaresEveryAnswer(t *testing.T) {
	t.Parallel()
	_, doc := openAPIDoc(t)
	for key, o := range operations(t, doc) {
		responses, _ := o.op["responses"].(map[string]any)
		want := []string{"500"}
		if !o.public {
			want = append(want, "401", "429")
		}
		if strings.Contains(key, "{id}") {
			want = append(want, "404")
		}
		if _, ok := o.op["requestBody"]; ok {
			want = append(want, "400", "413", "422")
		}
		for _, code := range want {
			if _, ok := responses[code]; !ok {
				t.Errorf("%s does not declare %s", key, code)
			}
		}
		for code, r := range responses {
			r := resolve(t, doc, r).(map[string]any)
			schema := resolve(t, doc, jsonSchemaOf(r))
			switch {
			case key == "GET /v1/openapi.json" && code == "200":
			case code >= "400":
				if errEnv, _ := pointer(doc, "#/components/schemas/ErrorEnvelope"); !cmp.Equal(schema, errEnv) {
					t.Errorf("%s %s: the answer is not an ErrorEnvelope", key, code)
				}
			default:
				s, _ := schema.(map[string]any)
				props, _ := s["properties"].(map[string]any)
				status, _ := props["status"].(map[string]any)
				if status["const"] != "ok" || !slices.Contains(anySlice(s["required"]), "message") {
					t.Errorf("%s %s: the answer is not an ok envelope: %v", key, code, s)
				}
			}
		}
	}
	errEnv, err := pointer(doc, "#/components/schemas/ErrorEnvelope")
	if err != nil {
		t.Fatal(err)
	}
	e := errEnv.(map[string]any)
	errorsProp := e["properties"].(map[string]any)["errors"].(map[string]any)
	if !slices.Contains(anySlice(e["required"]), "errors") || errorsProp["minItems"] != float64(1) {
		t.Errorf("ErrorEnvelope must require errors with minItems 1: %v", e)
	}
}

func jsonSchemaOf(response map[string]any) any {
	content, _ := response["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	return media["schema"]
}

func anySlice(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

// TestOpenAPIOutsideRoutes: the routes left out of the document on purpose
// (flowdtest.OutsideDocument, which the contract test does not check) are
// named as such in the document and in README, and the document has no
// path under them.
func TestOpenAPIOutsideRoutes(t *testing.T) {
	t.Parallel()
	_, doc := openAPIDoc(t)
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "### The OpenAPI document")
	section, _, _ = strings.Cut(section, "\n### ")
	desc := doc["info"].(map[string]any)["description"].(string)
	for _, p := range flowdtest.OutsideDocument {
		if !strings.Contains(desc, "`"+p+"`") {
			t.Errorf("the document's info.description does not name %s as outside the document", p)
		}
		if !strings.Contains(section, "`"+p+"`") {
			t.Errorf("README's \"The OpenAPI document\" does not name %s as outside the document", p)
		}
		for path := range doc["paths"].(map[string]any) {
			if strings.HasPrefix(path, p) {
				t.Errorf("%s is in the document but %s is listed as outside it", path, p)
			}
		}
	}
}
