package flowdtest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Request is one request a Target received.
type Request struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   string
	At     time.Time
}

// Target is an httptest server standing in for the systems that steps
// call: it records every request and answers with the handler of its path
// (Handle), or else with the handler of "", or 200 {"ok": true}.
type Target struct {
	*httptest.Server
	mu       sync.Mutex
	reqs     []Request
	handlers map[string]func(w http.ResponseWriter, r *http.Request, n int)
	counts   map[string]int
}

// NewTarget starts a Target, closed at the test's cleanup.
func NewTarget(t testing.TB) *Target {
	tg := &Target{handlers: map[string]func(http.ResponseWriter, *http.Request, int){}, counts: map[string]int{}}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tg.mu.Lock()
		tg.reqs = append(tg.reqs, Request{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(body), time.Now()})
		tg.counts[r.URL.Path]++
		n := tg.counts[r.URL.Path]
		h, ok := tg.handlers[r.URL.Path]
		if !ok {
			h = tg.handlers[""]
		}
		tg.mu.Unlock()
		if h == nil {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"ok": true}`)
			return
		}
		h(w, r, n)
	}))
	t.Cleanup(tg.Close)
	return tg
}

// Handle answers the requests to path with h; n counts them from 1. Path
// "" stands for every path without a handler of its own.
func (tg *Target) Handle(path string, h func(w http.ResponseWriter, r *http.Request, n int)) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.handlers[path] = h
}

// JSON answers the requests to path with 200 and body.
func (tg *Target) JSON(path, body string) {
	tg.Handle(path, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	})
}

// Requests returns the requests received at path, or all of them for "".
func (tg *Target) Requests(path string) []Request {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	var out []Request
	for _, r := range tg.reqs {
		if path == "" || r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// Gate holds the requests to one path of a Target until it is opened (or
// the request's context ends: its worker died or cancelled it); once open,
// requests pass at once with 200 {"ok": true}.
type Gate struct {
	mu     sync.Mutex
	held   int
	opened chan struct{}
	once   sync.Once
}

// Gate puts path behind a new Gate, opened at the test's cleanup at the
// latest.
func (tg *Target) Gate(t testing.TB, path string) *Gate {
	g := &Gate{opened: make(chan struct{})}
	t.Cleanup(g.Open)
	tg.Handle(path, func(w http.ResponseWriter, r *http.Request, n int) {
		select {
		case <-g.opened:
		default:
			g.mu.Lock()
			g.held++
			g.mu.Unlock()
		}
		select {
		case <-g.opened:
			fmt.Fprint(w, `{"ok": true}`)
		case <-r.Context().Done():
		}
	})
	return g
}

// Arrived returns how many requests arrived while the gate was closed.
func (g *Gate) Arrived() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held
}

// Open lets the held requests and every later one through.
func (g *Gate) Open() { g.once.Do(func() { close(g.opened) }) }
