package web

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/store"
)

// Prefix is where Handler expects to be mounted.
const Prefix = "/ui/"

// PageSizeDefault is the default of Config.PageSize.
const PageSizeDefault = 50

// RefreshSeconds is how often the page of an unfinished execution reloads.
const RefreshSeconds = 2

// Store is what the pages read (auth.Store: what an Authenticator of their
// own reads when Config.Auth is nil).
type Store interface {
	auth.Store
	FlowList(ctx context.Context, companyID uuid.UUID, workspaceID string) ([]*flow.Flow, error)
	FlowGet(ctx context.Context, companyID, id uuid.UUID) (*flow.Flow, error)
	FlowDefinition(ctx context.Context, companyID, flowID uuid.UUID, version int) (*flow.Definition, error)
	ExecutionGet(ctx context.Context, companyID, id uuid.UUID) (*flow.Execution, error)
	ExecutionListByFlow(ctx context.Context, companyID, flowID uuid.UUID, status string, limit int, after *store.ExecutionCursor) ([]*flow.Execution, *store.ExecutionCursor, error)
	StepAttemptListByExecution(ctx context.Context, companyID, executionID uuid.UUID) ([]flow.StepAttempt, error)
	ExecutionHoursByFlow(ctx context.Context, companyID uuid.UUID, flowIDs []uuid.UUID, since time.Time) ([]store.ExecutionHour, error)
	EventGet(ctx context.Context, companyID, id uuid.UUID) (*flow.Event, error)
}

// Config configures the execution view; zero values mean defaults.
type Config struct {
	// PageSize bounds the executions listed per page.
	PageSize int
	// Auth checks the API tokens that sign in; nil makes one on the
	// store. Share the API's (api.Config.Auth) so both use one cache.
	Auth   *auth.Authenticator
	Logger *slog.Logger
}

// Handler serves the execution view under Prefix.
type Handler struct {
	store Store
	auth  *auth.Authenticator
	cfg   Config
	log   *slog.Logger
	mux   *http.ServeMux
	tmpl  map[string]*template.Template
}

//go:embed templates/*.html
var templateFS embed.FS

// New returns the execution view reading from st.
func New(st Store, cfg *Config) *Handler {
	c := *cfg
	c.PageSize = cmp.Or(c.PageSize, PageSizeDefault)
	log := cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	authn := c.Auth
	if authn == nil {
		authn = auth.New(st)
	}
	h := &Handler{store: st, auth: authn, cfg: c, log: log, mux: http.NewServeMux(), tmpl: map[string]*template.Template{}}
	for _, page := range []string{"index", "flow", "execution", "event", "error"} {
		h.tmpl[page] = template.Must(template.New("").Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/executions.html", "templates/"+page+".html"))
	}
	h.mux.HandleFunc("GET /ui/{$}", h.page(h.index))
	h.mux.HandleFunc("GET /ui/flows/{id}", h.page(h.flow))
	h.mux.HandleFunc("GET /ui/executions/{id}", h.page(h.execution))
	h.mux.HandleFunc("GET /ui/events/{id}", h.page(h.event))
	h.mux.HandleFunc("/ui/", h.page(func(*http.Request, *auth.Principal) (*view, error) {
		return nil, errNoPage
	}))
	return h
}

// ServeHTTP authenticates the request and serves the page.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	h.mux.ServeHTTP(w, r)
}

// setSecurityHeaders forbids caching, framing, sniffing and every script
// or remote resource: the pages are plain HTML with an inline style sheet.
func setSecurityHeaders(hd http.Header) {
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
}

// view is what a page handler produced: the template and its data.
type view struct {
	page    string
	title   string
	refresh bool
	data    any
}

// layoutData is what every template gets.
type layoutData struct {
	Title          string
	RefreshSeconds int
	CompanyID      uuid.UUID
	Data           any
}

// httpError is a page error with its status and a message for the user.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

var (
	errUnauthorized = &httpError{http.StatusUnauthorized, "sign in with any user name and a flowd API token as the password"}
	errNoPage       = &httpError{http.StatusNotFound, "no such page"}
)

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// page adapts a page handler: it authenticates, runs it and renders the
// view or the error page.
func (h *Handler) page(fn func(*http.Request, *auth.Principal) (*view, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := h.authenticate(r)
		if err != nil {
			h.renderError(w, r, nil, err)
			return
		}
		v, err := fn(r, p)
		if err != nil {
			h.renderError(w, r, p, err)
			return
		}
		refresh := 0
		if v.refresh {
			refresh = RefreshSeconds
		}
		h.render(w, r, http.StatusOK, v.page, &layoutData{Title: v.title, RefreshSeconds: refresh, CompanyID: p.CompanyID, Data: v.data})
	}
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, code int, page string, d *layoutData) {
	var buf strings.Builder
	if err := h.tmpl[page].ExecuteTemplate(&buf, "layout", d); err != nil {
		h.log.Error("render page", "path", r.URL.Path, "page", page, "error", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(buf.String()))
}

// renderError answers err as an HTML page with the right status: 401 asks
// for Basic credentials, not-found is 404, other page errors keep their
// code, and anything else is a logged 500 whose details stay in the log.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, p *auth.Principal, err error) {
	code, msg := http.StatusInternalServerError, "the page could not be loaded; the server log has the details"
	var he *httpError
	switch {
	case errors.As(err, &he):
		code, msg = he.code, he.msg
	case errors.Is(err, store.ErrNotFound):
		code, msg = http.StatusNotFound, "not found"
	default:
		h.log.Error("web page", "path", r.URL.Path, "error", err)
	}
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="flowd", charset="UTF-8"`)
	}
	var company uuid.UUID
	if p != nil {
		company = p.CompanyID
	}
	h.render(w, r, code, "error", &layoutData{
		Title:     http.StatusText(code),
		CompanyID: company,
		Data: struct {
			Code            int
			Status, Message string
		}{code, http.StatusText(code), msg},
	})
}

// authenticate resolves the request's API token: the password of HTTP
// Basic credentials (any user name) or a Bearer token, checked by
// auth.Authenticator.Authenticate like the API's.
func (h *Handler) authenticate(r *http.Request) (*auth.Principal, error) {
	p, err := h.auth.Authenticate(r.Context(), bearerOrBasic(r))
	if errors.Is(err, auth.ErrInvalidToken) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	return p, nil
}

// bearerOrBasic returns the token of an Authorization header: a Bearer
// token or the password of Basic credentials; "" when there is none.
func bearerOrBasic(r *http.Request) string {
	if _, pass, ok := r.BasicAuth(); ok {
		return strings.TrimSpace(pass)
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(token)
	}
	return ""
}
