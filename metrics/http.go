package metrics

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flowd/flowd/telemetry"
)

// Handler serves the metrics in the Prometheus exposition formats. When
// token is not empty, requests must carry "Authorization: Bearer <token>"
// and get 401 otherwise.
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		gotSum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(gotSum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="flowd metrics"`)
			http.Error(w, "metrics need Authorization: Bearer <FLOWD_METRICS_TOKEN>", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Instrument wraps the API's root handler (outside its ServeMux) to count
// requests by the pattern the mux matched ("unmatched" when none did) and
// by status class, and to time them.
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &telemetry.StatusRecorder{ResponseWriter: w}
		defer func() {
			// The ServeMux sets r.Pattern on the request it was given.
			route := cmp.Or(r.Pattern, "unmatched")
			m.httpRequests.WithLabelValues(route, StatusClass(rec.Status())).Inc()
			m.httpDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(rec, r)
	})
}

// Server is a listener that serves only GET /metrics, for processes that
// have no API listener (flowd worker).
type Server struct {
	addr string
	h    http.Handler
	log  *slog.Logger
	srv  *http.Server
	// bound is the address actually listened on.
	bound string
}

// NewServer returns a Server for addr serving h at GET /metrics.
func NewServer(addr string, h http.Handler, log *slog.Logger) *Server {
	log = cmp.Or(log, slog.New(slog.DiscardHandler))
	return &Server{addr: addr, h: h, log: log}
}

// Start listens and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listen for metrics on %s: %w", s.addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.h)
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.bound = ln.Addr().String()
	s.log.Info("metrics listening", "addr", s.bound)
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics server", "error", err)
		}
	}()
	return nil
}

// Addr returns the address listened on once started (with the port the
// system chose for ":0"), and "" before.
func (s *Server) Addr() string { return s.bound }

// Stop closes the listener and waits for requests in flight.
func (s *Server) Stop(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}
