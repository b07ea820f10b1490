package web

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"riverqueue.com/riverui"
)

// RiverUIPrefix is where RiverUI expects to be mounted (with a trailing
// slash as a ServeMux pattern).
const RiverUIPrefix = "/riverui"

// MinOperatorTokenLen is the shortest operator token NewRiverUI accepts.
const MinOperatorTokenLen = 16

// RiverUI serves River's web UI (every company's jobs and queues, with
// cancel, retry, delete and pause) behind the operator token: HTTP Basic
// auth with any user name and the token as the password. State-changing
// requests from other origins are refused, so a page elsewhere cannot use
// the browser's remembered credentials.
type RiverUI struct {
	ui    *riverui.Handler
	token [sha256.Size]byte
	h     http.Handler
}

// NewRiverUI returns River's UI for client, protected by operatorToken,
// which must be at least MinOperatorTokenLen characters.
func NewRiverUI(client *river.Client[pgx.Tx], operatorToken string, log *slog.Logger) (*RiverUI, error) {
	if len(operatorToken) < MinOperatorTokenLen {
		return nil, fmt.Errorf("the operator token must have at least %d characters", MinOperatorTokenLen)
	}
	log = cmp.Or(log, slog.New(slog.DiscardHandler))
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(client, nil),
		Logger:    log,
		Prefix:    RiverUIPrefix,
	})
	if err != nil {
		return nil, fmt.Errorf("river UI: %w", err)
	}
	u := &RiverUI{ui: ui, token: sha256.Sum256([]byte(operatorToken))}
	u.h = http.NewCrossOriginProtection().Handler(ui)
	return u, nil
}

// Start starts the UI's background services; they stop when ctx ends.
func (u *RiverUI) Start(ctx context.Context) error {
	if err := u.ui.Start(ctx); err != nil {
		return fmt.Errorf("start river UI: %w", err)
	}
	return nil
}

// ServeHTTP checks the operator token and serves River's UI.
func (u *RiverUI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pass, ok := r.BasicAuth()
	got := sha256.Sum256([]byte(pass))
	if !ok || subtle.ConstantTimeCompare(got[:], u.token[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="flowd operator", charset="UTF-8"`)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "River UI: sign in with any user name and the operator token (FLOWD_OPERATOR_TOKEN) as the password", http.StatusUnauthorized)
		return
	}
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	u.h.ServeHTTP(w, r)
}
