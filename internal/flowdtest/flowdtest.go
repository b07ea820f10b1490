// Package flowdtest starts a whole flowd (store, River workers, API) inside
// a test process against the package's test database, with real HTTP.
// Every request its API serves, and every answer, is checked against the
// OpenAPI document the API serves (contract.go): a violation fails the
// test that sent the request. It is for tests only; the flowd binary must
// not import it.
package flowdtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/testdb"
	"github.com/flowd/flowd/netguard"
	"github.com/flowd/flowd/scheduler"
	"github.com/flowd/flowd/store"
)

// Env is a running flowd.
type Env struct {
	URL    string
	Pool   *pgxpool.Pool
	Store  *store.Store
	Sched  *scheduler.Scheduler
	Worker *engine.Worker
	Server *api.Server

	// contract checks every exchange with the API against the OpenAPI
	// document (contract.go).
	contract *contract
}

// Options changes how an Env is built.
type Options struct {
	// Allow opens networks for the SSRF guard; nil means loopback, an
	// empty non-nil slice means nothing (the production default).
	Allow []netip.Prefix
	// Pool, when set, is used instead of the package's test database.
	Pool *pgxpool.Pool
	// OwnDatabase gives the Env a fresh database of its own (dropped at the
	// test's cleanup). Use it for an Env whose worker is configured
	// differently: workers on one database take each other's jobs, so an
	// Env with a worker next to Shared would run some of Shared's
	// executions with its own settings, and the other way round.
	OwnDatabase bool
	// NoWorker builds an insert-only flowd: the API and triggers work, no
	// execution runs in this process (other processes run them).
	NoWorker bool
	// Worker and Scheduler tweak the worker's and the scheduler's config.
	Worker    func(*engine.WorkerConfig)
	Scheduler func(*scheduler.Config)
	// Mounts are extra handlers on the API server.
	Mounts map[string]http.Handler
	// APIConfig tweaks the API server's config.
	APIConfig func(*api.Config)
	// MountsFor returns more handlers to mount, built from the Env before
	// its API server starts (its Store and Sched are set; URL is not).
	MountsFor func(*Env) map[string]http.Handler
	// Logger receives the logs of the workers, scheduler and API; default
	// Logger().
	Logger *slog.Logger
	// Observer receives the worker's events (metrics).
	Observer engine.Observer
}

// softStopTimeout is the scheduler's SoftStopTimeout in tests: an Env
// stopped with executions in flight cancels them after this long.
const softStopTimeout = 5 * time.Second

var (
	shared     *Env
	sharedErr  error
	sharedOnce sync.Once
)

// Shared returns the package's shared Env, started on first use and kept
// until the test binary exits.
func Shared(t testing.TB) *Env {
	t.Helper()
	sharedOnce.Do(func() { shared, _, sharedErr = start(t, nil) })
	if sharedErr != nil {
		t.Fatalf("start shared flowd: %v", sharedErr)
	}
	t.Cleanup(func() { shared.contract.reportStray(t) })
	return shared
}

// Logger returns a logger for tests: quiet unless FLOWD_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("FLOWD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// New starts a flowd of the test's own on the package's test database; it
// stops at the test's cleanup.
func New(t testing.TB, opts *Options) *Env {
	t.Helper()
	env, stop, err := start(t, opts)
	if err != nil {
		t.Fatalf("start flowd: %v", err)
	}
	t.Cleanup(stop)
	t.Cleanup(func() { env.contract.reportStray(t) })
	return env
}

func start(t testing.TB, opts *Options) (*Env, func(), error) {
	if opts == nil {
		opts = &Options{}
	}
	pool := opts.Pool
	closePool := func() {}
	switch {
	case pool != nil:
	case opts.OwnDatabase:
		p, err := pgxpool.New(context.Background(), testdb.NewDatabase(t))
		if err != nil {
			return nil, nil, err
		}
		pool, closePool = p, p.Close
	default:
		pool = testdb.Pool(t)
	}
	st := store.New(pool, testdb.Keys())
	allow := opts.Allow
	if allow == nil {
		allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	log := opts.Logger
	if log == nil {
		log = Logger()
	}
	guard := netguard.New(netguard.Config{Allow: allow})
	id := "test-" + uuid.NewString()[:8]
	var worker *engine.Worker
	if !opts.NoWorker {
		wcfg := &engine.WorkerConfig{HTTPClient: guard.Client(), WorkerID: id, Logger: log, Observer: opts.Observer}
		if opts.Worker != nil {
			opts.Worker(wcfg)
		}
		worker = engine.NewWorker(st, wcfg)
	}
	scfg := &scheduler.Config{Worker: worker, Workers: 50, ID: id, Logger: log, SoftStopTimeout: softStopTimeout}
	if opts.Scheduler != nil {
		opts.Scheduler(scfg)
	}
	sched, err := scheduler.New(pool, st, scfg)
	if err != nil {
		return nil, nil, err
	}
	if err := sched.Start(context.Background()); err != nil {
		return nil, nil, err
	}
	env := &Env{Pool: pool, Store: st, Sched: sched, Worker: worker}
	mounts := maps.Clone(opts.Mounts)
	if opts.MountsFor != nil {
		if mounts == nil {
			mounts = map[string]http.Handler{}
		}
		maps.Copy(mounts, opts.MountsFor(env))
	}
	cfg := &api.Config{Logger: log, Mounts: mounts, RateLimit: -1}
	if opts.APIConfig != nil {
		opts.APIConfig(cfg)
	}
	srv := api.New(st, sched, cfg)
	env.contract, err = newContract(srv.Handler())
	if err != nil {
		_ = sched.Stop(context.Background())
		closePool()
		return nil, nil, err
	}
	hs := httptest.NewServer(env.contract.wrap(srv.Handler()))
	env.URL, env.Server = hs.URL, srv
	stop := func() {
		hs.Close()
		sctx, cancel := context.WithTimeout(context.Background(), sched.StopTimeout())
		defer cancel()
		_ = sched.Stop(sctx)
		closePool()
	}
	return env, stop, nil
}

// NewServer serves h, an API handler a test built itself (over a store of
// its own, say), behind the same contract check as New's, until the test
// ends. Only the returned Env's URL, Do, DoInvalid and Client work.
func NewServer(t testing.TB, h http.Handler) *Env {
	t.Helper()
	c, err := newContract(h)
	if err != nil {
		t.Fatalf("check against the OpenAPI document: %v", err)
	}
	hs := httptest.NewServer(c.wrap(h))
	t.Cleanup(hs.Close)
	env := &Env{URL: hs.URL, contract: c}
	t.Cleanup(func() { c.reportStray(t) })
	return env
}

// Tenant is a company with an API token.
type Tenant struct {
	CompanyID uuid.UUID
	UserID    uuid.UUID
	Token     string
}

// NewTenant creates a company with a fresh token.
func (e *Env) NewTenant(t testing.TB) *Tenant {
	t.Helper()
	tn := &Tenant{CompanyID: uuid.New(), UserID: uuid.New()}
	token, _, err := auth.CreateToken(context.Background(), e.Store, tn.CompanyID, tn.UserID, "test")
	if err != nil {
		t.Fatal(err)
	}
	tn.Token = token
	return tn
}

// Response is a decoded API answer.
type Response struct {
	Code    int
	Header  http.Header
	Raw     []byte
	Status  string            `json:"status"`
	Message string            `json:"message"`
	Data    json.RawMessage   `json:"data"`
	Errors  []flow.FieldError `json:"errors"`
	Next    *string           `json:"next_cursor"`
}

// Do sends a request with the tenant's token (tn may be nil for none). body
// may be nil, a []byte or string sent as is, or a value encoded as JSON.
// The request and its answer are checked against the OpenAPI document the
// Env serves: a request or an answer the document does not allow (an
// undeclared status, field or parameter, a missing required field) fails
// the test.
func (e *Env) Do(t testing.TB, tn *Tenant, method, path string, body any, headers ...string) *Response {
	t.Helper()
	return e.do(t, checkExchange, tn, method, path, body, headers)
}

// DoInvalid is Do for a request that breaks the OpenAPI document on purpose
// (garbage, no token, a value over its limit, a route that does not exist):
// only the answer is checked. It must be an answer the document declares
// for the operation, or, for a route the document lacks, a 4xx error
// envelope.
func (e *Env) DoInvalid(t testing.TB, tn *Tenant, method, path string, body any, headers ...string) *Response {
	t.Helper()
	return e.do(t, checkAnswer, tn, method, path, body, headers)
}

func (e *Env) do(t testing.TB, mode checkMode, tn *Tenant, method, path string, body any, headers []string) *Response {
	t.Helper()
	raw, err := encodeBody(body)
	if err != nil {
		t.Fatalf("encode body: %v", err)
	}
	req, err := http.NewRequest(method, e.URL+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if tn != nil {
		req.Header.Set("Authorization", "Bearer "+tn.Token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.client(t, mode).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	out := &Response{Code: resp.StatusCode, Header: resp.Header, Raw: answer}
	if err := json.Unmarshal(answer, out); err != nil {
		t.Fatalf("%s %s: answer is not JSON (%d): %s", method, path, resp.StatusCode, answer)
	}
	return out
}

// Send sends req with the extra headers ("Name", "value", ...) and returns
// the answer's status, headers and body; it fails the test when the
// request cannot be sent. It is for routes outside the OpenAPI document
// (the execution view, the River UI) and for other servers.
func Send(t testing.TB, req *http.Request, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

// CreateFlow creates a flow for tn from def (a definition: a map, a
// string or bytes of JSON) and returns it; any answer but 201 fails the
// test.
func (e *Env) CreateFlow(t testing.TB, tn *Tenant, def any) *flow.Flow {
	t.Helper()
	r := e.Do(t, tn, "POST", "/v1/webhooks", def)
	if r.Code != http.StatusCreated {
		t.Fatalf("create flow: %d %s", r.Code, r.Raw)
	}
	var f flow.Flow
	r.Decode(t, &f)
	return &f
}

// Trigger starts an execution of the flow for tn, with body (nil for
// none) and extra headers, and returns it as answered; any answer but 202
// fails the test.
func (e *Env) Trigger(t testing.TB, tn *Tenant, flowID uuid.UUID, body any, headers ...string) *flow.Execution {
	t.Helper()
	r := e.Do(t, tn, "POST", "/v1/webhooks/"+flowID.String()+"/trigger", body, headers...)
	if r.Code != http.StatusAccepted {
		t.Fatalf("trigger: %d %s", r.Code, r.Raw)
	}
	var x flow.Execution
	r.Decode(t, &x)
	return &x
}

// encodeBody is a request body as Do sends it: nil for none, a []byte or
// string as is, anything else encoded as JSON.
func encodeBody(body any) ([]byte, error) {
	switch b := body.(type) {
	case nil:
		return nil, nil
	case []byte:
		return b, nil
	case string:
		return []byte(b), nil
	}
	return json.Marshal(body)
}

// Client returns an HTTP client for requests to the Env that Do cannot
// send (a raw body reader, a redirect, reading the answer as it streams).
// Its requests and answers are checked like Do's; a violation fails t.
func (e *Env) Client(t testing.TB) *http.Client {
	return e.client(t, checkExchange)
}

func (e *Env) client(t testing.TB, mode checkMode) *http.Client {
	if e.contract == nil {
		t.Fatalf("this Env was not made by flowdtest: use New, Shared or NewServer, whose requests are checked against the OpenAPI document")
	}
	return &http.Client{Transport: &claimingTransport{c: e.contract, t: t, mode: mode}}
}

// URLFor returns a URL of the Env for a client the test cannot give
// Client's transport (the CLI's own client): requests to it are checked
// like Do's, and a violation fails t.
func (e *Env) URLFor(t testing.TB) string {
	return e.proxy(t, checkExchange)
}

// InvalidURLFor is URLFor for a client that breaks the document on
// purpose: only the answers are checked, as with DoInvalid.
func (e *Env) InvalidURLFor(t testing.TB) string {
	return e.proxy(t, checkAnswer)
}

func (e *Env) proxy(t testing.TB, mode checkMode) string {
	target, err := url.Parse(e.URL)
	if err != nil {
		t.Fatalf("parse the Env's URL: %v", err)
	}
	p := httputil.NewSingleHostReverseProxy(target)
	p.Transport = e.client(t, mode).Transport
	hs := httptest.NewServer(p)
	t.Cleanup(hs.Close)
	return hs.URL
}

// claimingTransport names the sending test in each request, so that the
// Env's contract check fails that test.
type claimingTransport struct {
	c    *contract
	t    testing.TB
	mode checkMode
}

func (ct *claimingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	id, release := ct.c.claim(ct.t, ct.mode)
	r = r.Clone(r.Context())
	r.Header.Set(checkHeader, id)
	resp, err := http.DefaultTransport.RoundTrip(r)
	// The check ran before the answer was sent.
	release()
	return resp, err
}

// Decode unmarshals the response's data into v.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode data: %v: %s", err, r.Data)
	}
}

// WaitExecution polls an execution until it has one of the statuses, or
// fails the test after timeout.
func (e *Env) WaitExecution(t testing.TB, tn *Tenant, id uuid.UUID, timeout time.Duration, statuses ...string) *flow.Execution {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := e.Do(t, tn, "GET", "/v1/executions/"+id.String(), nil)
		if r.Code != http.StatusOK {
			t.Fatalf("get execution: %d %s", r.Code, r.Raw)
		}
		var last flow.Execution
		r.Decode(t, &last)
		if slices.Contains(statuses, last.Status) {
			return &last
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s still %s after %s (want %v): %s", id, last.Status, timeout, statuses, r.Raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
