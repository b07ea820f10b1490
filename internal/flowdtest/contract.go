package flowdtest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// OutsideDocument are the path prefixes an Env serves that the OpenAPI
// document leaves out on purpose: they are not JSON API routes (Prometheus
// text, HTML pages, River's own UI and its API). README's "The OpenAPI
// document" lists the same. Every other request is checked.
var OutsideDocument = []string{"/metrics", "/ui/", "/riverui/"}

// checkHeader carries, from Env.Do and Env.Client to the Env's server, the
// id of the test that sent a request; the server removes it before the API
// sees the request.
const checkHeader = "Flowdtest-Check"

// checkMode says what of an exchange is validated.
type checkMode int

const (
	// checkExchange validates the request and the answer.
	checkExchange checkMode = iota
	// checkAnswer validates only the answer: the request breaks the
	// document on purpose (garbage, no token, a field over its limit).
	checkAnswer
	// checkStray is checkExchange for a request no test claimed (a
	// browser's, say): one for a route the document lacks is judged by
	// its answer alone, which must be an error envelope.
	checkStray
)

// contract validates every request an Env serves, and its answer, against
// the OpenAPI document the Env serves at /v1/openapi.json, with an
// independent OpenAPI 3.1 validator (libopenapi-validator). A violation
// fails the test that sent the request: Env.Do, Env.DoInvalid and
// Env.Client name it in a header. A request sent otherwise (a raw HTTP
// client, the CLI's) is still checked; its violations fail the next test
// that ends using the Env, saying so.
type contract struct {
	v             validator.Validator
	model         *v3.Document
	errorEnvelope *base.Schema
	schemas       schema_validation.SchemaValidator

	mu      sync.Mutex
	next    int
	callers map[string]caller
	stray   []string
}

// caller is a test waiting for the answer to a request it sent.
type caller struct {
	t    testing.TB
	mode checkMode
}

var (
	validatorsMu sync.Mutex
	validators   = map[string]*contract{} // by document
)

// newContract returns the checker of the document served by h.
func newContract(h http.Handler) (*contract, error) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/openapi.json", nil))
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/openapi.json: %d %s", rec.Code, rec.Body)
	}
	raw := rec.Body.String()
	validatorsMu.Lock()
	defer validatorsMu.Unlock()
	if c, ok := validators[raw]; ok {
		return c.fresh(), nil
	}
	doc, err := libopenapi.NewDocument([]byte(raw))
	if err != nil {
		return nil, fmt.Errorf("parse the served OpenAPI document: %w", err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("build the served OpenAPI document: %w", err)
	}
	envSchema := model.Model.Components.Schemas.GetOrZero("ErrorEnvelope")
	if envSchema == nil {
		return nil, fmt.Errorf("the served OpenAPI document has no ErrorEnvelope schema")
	}
	// Formats (uuid, date-time) are checked too.
	opts := []config.Option{config.WithFormatAssertions()}
	c := &contract{
		v:             validator.NewValidatorFromV3Model(&model.Model, opts...),
		model:         &model.Model,
		errorEnvelope: envSchema.Schema(),
		schemas:       schema_validation.NewSchemaValidator(opts...),
	}
	validators[raw] = c
	return c.fresh(), nil
}

// fresh returns a checker of the same document with no callers.
func (c *contract) fresh() *contract {
	return &contract{v: c.v, model: c.model, errorEnvelope: c.errorEnvelope, schemas: c.schemas, callers: map[string]caller{}}
}

// claim registers t as the sender of a request; the returned id goes in
// checkHeader, and release must be called once the answer is in.
func (c *contract) claim(t testing.TB, mode checkMode) (id string, release func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	id = fmt.Sprint(c.next)
	c.callers[id] = caller{t: t, mode: mode}
	return id, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.callers, id)
	}
}

// reportStray fails t with the violations of requests no test claimed.
func (c *contract) reportStray(t testing.TB) {
	c.mu.Lock()
	stray := c.stray
	c.stray = nil
	c.mu.Unlock()
	for _, s := range stray {
		t.Errorf("%s\n(sent without Env.Do, Env.DoInvalid or Env.Client: the test that sent it is unknown)", s)
	}
}

// outside reports whether path is left out of the document on purpose.
func outside(path string) bool {
	for _, p := range OutsideDocument {
		if path == p || strings.HasSuffix(p, "/") && strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// wrap returns next with every exchange checked. The answer is held until
// it is checked, so the sending test is still running when it fails.
func (c *contract) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if outside(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		id := r.Header.Get(checkHeader)
		r.Header.Del(checkHeader)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &recorder{header: http.Header{}}
		next.ServeHTTP(rec, r)
		if rec.code == 0 {
			rec.code = http.StatusOK
		}

		c.mu.Lock()
		who, claimed := c.callers[id]
		c.mu.Unlock()
		mode := checkStray
		if claimed {
			mode = who.mode
		}
		if problems := c.check(r, body, rec, mode); len(problems) > 0 {
			msg := fmt.Sprintf("contract: %s %s answered %d, against /v1/openapi.json:\n  %s\n  request body: %.300s\n  answer: %.500s",
				r.Method, r.URL.RequestURI(), rec.code, strings.Join(problems, "\n  "), body, rec.body.Bytes())
			c.mu.Lock()
			if who, ok := c.callers[id]; ok {
				who.t.Helper()
				who.t.Error(msg)
			} else {
				c.stray = append(c.stray, msg)
			}
			c.mu.Unlock()
		}

		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.code)
		_, _ = w.Write(rec.body.Bytes())
	})
}

// check validates one exchange and returns what breaks the document.
func (c *contract) check(r *http.Request, body []byte, rec *recorder, mode checkMode) []string {
	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp := &http.Response{
		StatusCode: rec.code,
		Header:     rec.header.Clone(),
		Body:       io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		Request:    req,
	}
	var errs []*liberrors.ValidationError
	if mode == checkAnswer {
		_, errs = c.v.ValidateHttpResponse(req, resp)
	} else {
		_, errs = c.v.ValidateHttpRequestResponse(req, resp)
	}
	if mode != checkExchange && len(errs) > 0 && errs[0].ValidationType == helpers.PathValidation {
		// A route the document does not have (on purpose): the answer
		// must still be an error envelope.
		return c.checkErrorEnvelope(rec)
	}
	problems := describe(errs)
	if len(problems) == 0 {
		problems = undeclaredFields(c.model, req, rec.code, rec.body.Bytes())
	}
	return problems
}

// checkErrorEnvelope checks the answer to a request for a route that does
// not exist: a 4xx whose body is an ErrorEnvelope.
func (c *contract) checkErrorEnvelope(rec *recorder) []string {
	var problems []string
	if rec.code < 400 || rec.code >= 500 {
		problems = append(problems, fmt.Sprintf("a request for a route that is not in the document answered %d, want 4xx", rec.code))
	}
	if ct := rec.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		problems = append(problems, fmt.Sprintf("Content-Type %q, want application/json", ct))
	}
	_, errs := c.schemas.ValidateSchemaBytes(c.errorEnvelope, rec.body.Bytes())
	problems = append(problems, describe(errs)...)
	var data any
	if json.Unmarshal(rec.body.Bytes(), &data) == nil {
		walkClosed(c.errorEnvelope, data, "$", &problems, 0)
	}
	return problems
}

// describe turns validation errors into one line each.
func describe(errs []*liberrors.ValidationError) []string {
	var out []string
	for _, e := range errs {
		line := e.Message
		if e.Reason != "" && e.Reason != e.Message {
			line += ": " + e.Reason
		}
		for _, f := range e.SchemaValidationErrors {
			line += fmt.Sprintf("\n    %s: %s", cmp.Or(f.FieldPath, "$"), f.Reason)
		}
		out = append(out, line)
	}
	return out
}

// recorder holds an answer until it has been checked.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// CheckRequest returns what in a request breaks the OpenAPI document the
// Env serves, without sending it (nothing when the document allows it).
// body is sent as Do sends it; a token is assumed.
func (e *Env) CheckRequest(method, path string, body any, headers ...string) []string {
	raw, err := encodeBody(body)
	if err != nil {
		return []string{"encode body: " + err.Error()}
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer fd_checked")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	_, errs := e.contract.v.ValidateHttpRequestSync(req)
	return describe(errs)
}
