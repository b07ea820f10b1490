package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/scheduler"
	"github.com/flowd/flowd/store"
)

// Defaults of Config.
const (
	AddrDefault         = "127.0.0.1:8080"
	MaxBodyBytesDefault = 1 << 20
	RateLimitDefault    = 500 // requests per second per company
	RateBurstDefault    = 1000
)

// Config configures the API server; zero values mean defaults.
type Config struct {
	// Addr is the listen address; default AddrDefault.
	Addr string
	// MaxBodyBytes bounds request bodies; larger bodies answer 413.
	MaxBodyBytes int64
	// RateLimit and RateBurst bound each company's requests (token bucket);
	// over the limit answers 429. A negative RateLimit disables it.
	RateLimit float64
	RateBurst int
	// HookRateLimit and HookRateBurst bound each flow's inbound hook calls
	// (token bucket per flow); over the limit answers 429. A negative
	// HookRateLimit disables it.
	HookRateLimit float64
	HookRateBurst int
	Logger        *slog.Logger
	// Auth checks the API tokens; nil makes one on the store. Share one
	// with the operator pages (web.Config.Auth) so both use one cache.
	Auth *auth.Authenticator
	// Extra handlers mounted next to the API (metrics, River UI, web view),
	// by pattern.
	Mounts map[string]http.Handler
	// Wrap, when set, wraps the root handler (request metrics).
	Wrap func(http.Handler) http.Handler
}

// Server is the HTTP API.
type Server struct {
	store *store.Store
	sched *scheduler.Scheduler
	auth  *auth.Authenticator
	cfg   Config
	log   *slog.Logger
	mux   *http.ServeMux
	srv   *http.Server
	ln    net.Listener

	limMu    sync.Mutex
	limiters map[uuid.UUID]*rate.Limiter

	hookLimits hookLimiters
}

// New returns a Server using st for reads and sched for triggers, cancels
// and retries.
func New(st *store.Store, sched *scheduler.Scheduler, cfg *Config) *Server {
	c := *cfg
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, MaxBodyBytesDefault)
	c.RateLimit = cmp.Or(c.RateLimit, RateLimitDefault)
	c.RateBurst = cmp.Or(c.RateBurst, RateBurstDefault)
	c.HookRateLimit = cmp.Or(c.HookRateLimit, HookRateLimitDefault)
	c.HookRateBurst = cmp.Or(c.HookRateBurst, HookRateBurstDefault)
	log := cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	authn := c.Auth
	if authn == nil {
		authn = auth.New(st)
	}
	s := &Server{store: st, sched: sched, auth: authn, cfg: c, log: log, mux: http.NewServeMux(), limiters: map[uuid.UUID]*rate.Limiter{}}
	s.routes()
	for pattern, h := range c.Mounts {
		s.mux.Handle(pattern, h)
	}
	return s
}

// Handler returns the server's root handler.
func (s *Server) Handler() http.Handler {
	if s.cfg.Wrap != nil {
		return s.cfg.Wrap(s.recoverer(s.mux))
	}
	return s.recoverer(s.mux)
}

// route is one endpoint described by api/openapi.json; the OpenAPI tests
// check that the table and the document list the same operations.
type route struct {
	method, path string
	// scope is the token scope the route needs (requireToken), or public
	// for none: the one place a route's permission is decided.
	scope   auth.Scope
	handler func(http.ResponseWriter, *http.Request) error
}

// The scope column of the route table (README "Tokens and scopes"): every
// GET is read (except the token list: admin), triggering and acting on
// executions (and publishing events) is trigger, any other change is
// admin.
const (
	public  auth.Scope = "" // no token
	read               = auth.ScopeRead
	trigger            = auth.ScopeTrigger
	admin              = auth.ScopeAdmin
)

// routeTable is every route of the API; api/openapi.json has one operation
// for each (README "Adding a route or a field").
func (s *Server) routeTable() []route {
	return []route{
		{"GET", "/v1/webhooks", read, s.flowList},
		{"POST", "/v1/webhooks", admin, s.flowCreate},
		{"GET", "/v1/webhooks/{id}", read, s.flowGet},
		{"PUT", "/v1/webhooks/{id}", admin, s.flowReplace},
		{"DELETE", "/v1/webhooks/{id}", admin, s.flowDelete},
		{"POST", "/v1/webhooks/{id}/trigger", trigger, s.flowTrigger},
		{"GET", "/v1/webhooks/{id}/executions", read, s.executionList},
		{"GET", "/v1/executions/{id}", read, s.executionGet},
		{"POST", "/v1/executions/{id}/cancel", trigger, s.executionCancel},
		{"POST", "/v1/executions/{id}/retry", trigger, s.executionRetry},
		{"POST", "/v1/integrations/{id}/clone", admin, s.flowClone},
		{"POST", "/v1/integrations/{id}/stop", admin, s.flowStop},
		{"POST", "/v1/integrations/{id}/resume", admin, s.flowResume},
		{"POST", "/v1/webhooks/{id}/hook-secret", admin, s.hookSecretRotate},
		{"POST", "/v1/webhooks/{id}/signing-secret", admin, s.signingSecretRotate},
		{"POST", "/v1/events", trigger, s.eventPublish},
		{"GET", "/v1/events", read, s.eventList},
		{"GET", "/v1/events/{id}", read, s.eventGet},
		{"GET", "/v1/tokens", admin, s.tokenList},
		{"POST", "/v1/tokens", admin, s.tokenCreate},
		{"DELETE", "/v1/tokens/{id}", admin, s.tokenRevoke},
		{"GET", "/v1/audit", read, s.auditList},
		{"POST", "/v1/hooks/{flow_id}", public, s.hookReceive},
		{"GET", "/v1/openapi.json", public, s.openAPI},
		{"GET", "/healthz", public, s.healthz},
		{"GET", "/readyz", public, s.readyz},
	}
}

func (s *Server) routes() {
	for _, rt := range s.routeTable() {
		h := http.Handler(s.handle(rt.handler))
		if rt.scope != public {
			h = s.requireToken(rt.scope, s.rateLimited(h))
		}
		s.mux.Handle(rt.method+" "+rt.path, h)
	}
	if _, mounted := s.cfg.Mounts["/"]; !mounted {
		s.mux.Handle("/", s.handle(s.noRoute))
	}
}

// noRoute answers a request no route serves: 405 with Allow when the path
// is served for other methods, 404 otherwise; both as error envelopes.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) error {
	var allow []string
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); m != r.Method && pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return &methodError{method: r.Method}
	}
	return errNoRoute
}

// onID acts on the {id} of the request's path for the caller's company and
// answers code with msg and the result: the shape of most /v1 handlers.
func onID[T any](w http.ResponseWriter, r *http.Request, code int, msg string,
	act func(ctx context.Context, companyID, id uuid.UUID) (T, error)) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	v, err := act(r.Context(), principalFrom(r.Context()).CompanyID, id)
	if err != nil {
		return err
	}
	writeOK(w, code, msg, v)
	return nil
}

// handle adapts a handler that returns an error, bounding the body size.
func (s *Server) handle(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic in handler", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				s.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) rateLimited(next http.Handler) http.Handler {
	if s.cfg.RateLimit < 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := principalFrom(r.Context())
		s.limMu.Lock()
		lim, ok := s.limiters[p.CompanyID]
		if !ok {
			lim = rate.NewLimiter(rate.Limit(s.cfg.RateLimit), s.cfg.RateBurst)
			s.limiters[p.CompanyID] = lim
		}
		s.limMu.Unlock()
		if !lim.Allow() {
			w.Header().Set("Retry-After", "1")
			s.writeError(w, r, errRateLimited)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// GET /healthz (no token): the process is up.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeOK(w, http.StatusOK, "up", nil)
	return nil
}

// GET /readyz (no token): the database answers and every migration is
// applied; 503 otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return &unavailableError{field: "database", msg: "database unreachable: " + err.Error()}
	}
	n, err := store.MigrationsPending(ctx, s.store.Pool())
	if err != nil {
		return &unavailableError{field: "database", msg: "migrations not applied: " + err.Error()}
	}
	if n != 0 {
		return &unavailableError{field: "database", msg: fmt.Sprintf("%d migrations pending; run flowd migrate", n)}
	}
	writeOK(w, http.StatusOK, "ready", nil)
	return nil
}

// Start listens on cfg.Addr and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", cmp.Or(s.cfg.Addr, AddrDefault))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.ln = &onceCloseListener{Listener: ln}
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.log.Info("api listening", "addr", ln.Addr().String())
	go func() {
		err := s.srv.Serve(s.ln)
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.log.Error("api server", "error", err)
		}
	}()
	return nil
}

// StopAccepting closes the listener, so that new connections are refused,
// and makes the connections that are open close after their current
// request. The requests in flight go on; Stop drains them.
func (s *Server) StopAccepting() {
	if s.srv == nil {
		return
	}
	s.srv.SetKeepAlivesEnabled(false)
	_ = s.ln.Close()
}

// Stop stops accepting connections (if StopAccepting was not called) and
// drains the requests in flight, until ctx ends.
func (s *Server) Stop(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}

// onceCloseListener lets StopAccepting and http.Server.Shutdown both close
// the listener.
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}
