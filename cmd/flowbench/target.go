package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// target is the HTTP server the benchmark flows call. It answers small JSON
// at once (or after a fixed delay), checks that the variables a step was
// given came from the previous step's answer (a wrong value answers 400, so
// the execution fails and the run reports it), and reports the arrival of
// every request that carries an Idempotency-Key "<execution id>:<step>".
type target struct {
	delay  time.Duration
	arrive func(execID string, step int, at time.Time)
}

// execution id prove that a step's variables came from this execution.
func (t *target) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	key := r.Header.Get("Idempotency-Key")
	body, _ := io.ReadAll(r.Body)
	execID, stepText, _ := strings.Cut(key, ":")
	if step, err := strconv.Atoi(stepText); err == nil && len(execID) == 36 {
		t.arrive(execID, step, now)
	}
	if t.delay > 0 {
		time.Sleep(t.delay)
	}
	short := execID[:min(8, len(execID))]
	w.Header().Set("Content-Type", "application/json")
	bad := func(what string) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"`+what+`"}`)
	}
	switch r.URL.Path {
	case "/a", "/noop":
		_, _ = io.WriteString(w, `{"ok":true}`)
	// Workload b: a 3-step chain passing a token and a number.
	case "/login":
		_, _ = io.WriteString(w, `{"token":"tok-`+short+`","expires_in":3600}`)
	case "/count":
		if r.Header.Get("Authorization") != "Bearer tok-"+short {
			bad("wrong token")
			return
		}
		_, _ = io.WriteString(w, `{"count":42,"items":[{"id":1},{"id":2}]}`)
	case "/push":
		var in struct{ Count json.Number }
		if json.Unmarshal(body, &in) != nil || in.Count != "42" {
			bad("count must be the number 42")
			return
		}
		_, _ = io.WriteString(w, `{"accepted":true}`)
	// Workload e: the event's id, mapped from the payload (the envelope).
	case "/e":
		var in struct{ Event string }
		if json.Unmarshal(body, &in) != nil || len(in.Event) != 36 {
			bad("event must be the event's id")
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	// Workload c: 1 -> {2, 3} -> 4 -> 5.
	case "/dag1":
		_, _ = io.WriteString(w, `{"seed":"s-`+short+`"}`)
	case "/dag2":
		if r.Header.Get("X-Seed") != "s-"+short {
			bad("wrong seed")
			return
		}
		_, _ = io.WriteString(w, `{"b":2}`)
	case "/dag3":
		_, _ = io.WriteString(w, `{"c":3}`)
	case "/dag4":
		var in struct{ B, C json.Number }
		if json.Unmarshal(body, &in) != nil || in.B != "2" || in.C != "3" {
			bad("b and c must be 2 and 3")
			return
		}
		_, _ = io.WriteString(w, `{"d":"done-`+short+`"}`)
	case "/dag5":
		var in struct{ D string }
		if json.Unmarshal(body, &in) != nil || in.D != "done-"+short {
			bad("wrong d")
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":"no such path"}`)
	}
}
