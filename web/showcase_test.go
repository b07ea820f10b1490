package web_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/internal/flowdtest"
)

// showcase is a flowd whose steps call made-up hosts (crm.example,
// billing.example, ...) that all reach one local server through the
// worker's dialer, so that the pictures show hosts as a real flow would.
// The server answers by host: enrich.example holds each request until
// release is closed, audit.example answers 503, crm.example answers once
// audit.example has answered (so that the audit step is already waiting
// for its retry when the enrich step starts), every other host answers
// JSON at once.
type showcase struct {
	*testBundle
	release   chan struct{}
	auditOnce sync.Once
	audited   chan struct{}
}

func setupShowcase(t *testing.T) *showcase {
	t.Helper()
	s := &showcase{release: make(chan struct{}), audited: make(chan struct{})}
	hosts := httptest.NewServer(http.HandlerFunc(s.answer))
	t.Cleanup(hosts.Close)
	t.Cleanup(func() { s.releaseAll() })
	addr := hosts.Listener.Addr().String()
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	client := &http.Client{Transport: &http.Transport{DialContext: dial}}
	s.testBundle = setupWith(t, func(o *flowdtest.Options) {
		// A database of its own: the workers of the other tests would send
		// these steps to the real (unknown) hosts.
		o.OwnDatabase = true
		o.Worker = func(c *engine.WorkerConfig) { c.HTTPClient = client }
	})
	return s
}

func (s *showcase) answer(w http.ResponseWriter, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.Host)
	if host == "" {
		host = r.Host
	}
	w.Header().Set("Content-Type", "application/json")
	switch host {
	case "enrich.example":
		select {
		case <-s.release:
		case <-r.Context().Done():
			return
		}
	case "audit.example":
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error": "audit log is read-only during maintenance"}`)
		s.auditOnce.Do(func() { close(s.audited) })
		return
	case "crm.example":
		select {
		case <-s.audited:
		case <-r.Context().Done():
			return
		}
		// Leave the runner time to record the audit step as waiting first.
		time.Sleep(300 * time.Millisecond)
	}
	fmt.Fprintf(w, `{"id": "c-1042", "owner": "ana", "invoice": "inv-77", "path": %q}`, r.URL.Path)
}

func (s *showcase) releaseAll() {
	select {
	case <-s.release:
	default:
		close(s.release)
	}
}

// step is a step of a showcase flow.
func step(n int, method, url string, dependsOn int, extra ...any) map[string]any {
	st := map[string]any{"step_number": n, "webhook_method": method, "webhook_url": url}
	if dependsOn > 0 {
		st["depends_on_step"] = dependsOn
	}
	for i := 0; i+1 < len(extra); i += 2 {
		st[extra[i].(string)] = extra[i+1]
	}
	return st
}

// contactsToCRM is a seven-step flow with two roots, fan-out, fan-in and
// two variable dependencies; its step 3 calls enrich.example (held) and
// its step 7 audit.example (503, one retry after 5 seconds).
func contactsToCRM() map[string]any {
	return map[string]any{
		"name": "Contacts to CRM", "retry_delay": 5, "retry_delay_unit": "seconds", "max_retries": 0,
		"variables": []any{
			map[string]any{"name": "contact_id", "type": "body", "location": "id", "stepId": 1, "dataType": "string"},
			map[string]any{"name": "invoice_id", "type": "body", "location": "invoice", "stepId": 2, "dataType": "string"},
		},
		"steps": []any{
			step(1, "GET", "http://crm.example/v3/contacts?updated_since=1h", 0),
			step(2, "GET", "http://billing.example/invoices?status=open", 0),
			// Held until release: long timeouts, so that a slow browser
			// still finds it running.
			step(3, "POST", "http://enrich.example/people/lookup", 1, "webhook_timeout", 300, "timeout", 600),
			step(4, "PUT", "http://warehouse.example/contacts/{{contact_id}}", 3),
			step(5, "POST", "http://ledger.example/sync?invoice={{invoice_id}}", 4),
			step(6, "POST", "http://mail.example/notify", 5, "webhook_body", map[string]any{"template": "synced"}),
			step(7, "POST", "http://audit.example/events", 2, "retry_limit", 1),
		},
	}
}

// wideFlow is a 50-step flow: one root fanning out into twelve chains of
// four steps that all join into a last step: it depends on the last chain
// and uses a variable extracted by the end of each of the others.
func wideFlow() map[string]any {
	steps := []any{step(1, "GET", "http://crm.example/v3/accounts", 0)}
	var vars []any
	n := 2
	var ends []int
	for chain := range 12 {
		prev := 1
		for k := range 4 {
			host := []string{"billing", "warehouse", "ledger", "mail"}[k]
			steps = append(steps, step(n, []string{"GET", "POST", "PUT", "PATCH"}[k], fmt.Sprintf("http://%s.example/region-%02d/%d", host, chain+1, k+1), prev))
			prev = n
			n++
		}
		ends = append(ends, prev)
	}
	totals := map[string]any{}
	for i, end := range ends[:len(ends)-1] {
		name := fmt.Sprintf("total_%02d", i+1)
		vars = append(vars, map[string]any{"name": name, "type": "body", "location": "id", "stepId": end, "dataType": "string"})
		totals[name] = "{{" + name + "}}"
	}
	steps = append(steps, step(n, "POST", "http://mail.example/report", ends[len(ends)-1], "webhook_body", totals))
	return map[string]any{"name": "Regional rollup (50 steps)", "retry_delay": 1, "retry_delay_unit": "seconds", "steps": steps, "variables": vars}
}

// history describes a day of made-up executions of a flow.
type history struct {
	perHour   float64 // executions per hour at the busiest hour
	failRate  float64 // the usual share of failures
	incident  int     // hours ago when failures and durations spiked (-1: none)
	p50       time.Duration
	cancelled float64 // share of cancelled executions
}

// seedHistory inserts the flow's executions of the last 24 hours, up to a
// minute ago (a shape that changes over the day, an incident, a few still
// in flight in the current hour), deterministically.
func (b *testBundle) seedHistory(t *testing.T, flowID string, companyID uuid.UUID, h history) {
	t.Helper()
	rnd := rand.New(rand.NewPCG(42, uint64(len(flowID))))
	now := time.Now().UTC().Add(-time.Minute)
	start := now.Truncate(time.Hour).Add(-23 * time.Hour)
	var created []time.Time
	var statuses []string
	var took []*float64
	for hour := range 24 {
		hoursAgo := 23 - hour
		// Busy in the (UTC) afternoon, quiet at night.
		hod := float64(start.Add(time.Duration(hour) * time.Hour).Hour())
		n := int(h.perHour * (0.35 + 0.65*math.Pow(math.Sin(math.Pi*(hod-3)/24), 2)))
		fail, slow := h.failRate, 1.0
		if h.incident >= 0 && (hoursAgo == h.incident || hoursAgo == h.incident-1) {
			fail, slow = 0.3, 8
		}
		for range n {
			at := start.Add(time.Duration(hour)*time.Hour + time.Duration(rnd.Int64N(int64(time.Hour))))
			if at.After(now) {
				continue
			}
			d := float64(h.p50) / float64(time.Second) * slow * math.Exp(rnd.NormFloat64()*0.6)
			status := "success"
			switch x := rnd.Float64(); {
			case now.Sub(at) < 2*time.Minute:
				status = "in_progress"
			case x < fail:
				status, d = "failed", d*3
			case x < fail+h.cancelled:
				status = "cancelled"
			}
			created, statuses = append(created, at), append(statuses, status)
			if status == "in_progress" {
				took = append(took, nil)
			} else {
				took = append(took, &d)
			}
		}
	}
	_, err := b.env.Pool.Exec(context.Background(), `INSERT INTO executions
		(id, flow_id, company_id, flow_version, status, trigger, created_at, executed_at, finished_at)
		SELECT gen_random_uuid(), $1, $2, 1, x.status, 'manual', x.created, x.created,
			x.created + x.took * interval '1 second'
		FROM unnest($3::timestamptz[], $4::text[], $5::float8[]) AS x(created, status, took)`,
		flowID, companyID, created, statuses, took)
	if err != nil {
		t.Fatalf("seed history: %v", err)
	}
}
