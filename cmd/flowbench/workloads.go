package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/google/uuid"

	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/flow"
)

// workload is one kind of flow the benchmark runs.
type workload struct {
	Key       string // a, b, c
	Name      string
	Steps     int
	FinalStep int // the step whose arrival ends an execution
	// Event, when set, makes each trigger a publish of this event type,
	// to which Fanout flows of the workload subscribe: one trigger starts
	// Fanout executions.
	Event  string
	Fanout int
	def    func(targetURL string) map[string]any
}

// perTrigger is how many executions one trigger of the workload starts.
func (w workload) perTrigger() int { return max(w.Fanout, 1) }

func step(n int, method, url string, extra map[string]any) map[string]any {
	s := map[string]any{"step_number": n, "webhook_method": method, "webhook_url": url,
		"webhook_timeout": 30, "timeout": 60, "retry_limit": 0}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

func flowDef(name string, steps []any, vars []any) map[string]any {
	return map[string]any{"name": name, "steps": steps, "retry_delay": 1, "retry_delay_unit": "seconds",
		"max_retries": 0, "flow_direction": "outbound", "variables": vars}
}

func variable(name, location string, stepID int, dataType string) map[string]any {
	return map[string]any{"name": name, "location": location, "stepId": stepID, "type": "body", "dataType": dataType}
}

var workloads = []workload{
	{Key: "a", Name: "1-step flow", Steps: 1, FinalStep: 1, def: func(u string) map[string]any {
		return flowDef("bench a: one step", []any{
			step(1, "POST", u+"/a", map[string]any{"webhook_body": map[string]any{"event": "ping", "id": "{{$execution_id}}"}}),
		}, []any{})
	}},
	{Key: "b", Name: "3-step chain", Steps: 3, FinalStep: 3, def: func(u string) map[string]any {
		return flowDef("bench b: login, count, push", []any{
			step(1, "POST", u+"/login", map[string]any{"webhook_body": map[string]any{"user": "bench"}}),
			step(2, "GET", u+"/count", map[string]any{"depends_on_step": 1,
				"webhook_headers": map[string]any{"Authorization": "Bearer {{token}}"}}),
			step(3, "POST", u+"/push", map[string]any{"depends_on_step": 2,
				"webhook_body": map[string]any{"count": "{{count}}"}}),
		}, []any{variable("token", "token", 1, "string"), variable("count", "count", 2, "integer")})
	}},
	{Key: "c", Name: "5-step DAG 1→{2,3}→4→5", Steps: 5, FinalStep: 5, def: func(u string) map[string]any {
		return flowDef("bench c: diamond", []any{
			step(1, "POST", u+"/dag1", map[string]any{"webhook_body": map[string]any{"start": true}}),
			step(2, "GET", u+"/dag2", map[string]any{"depends_on_step": 1,
				"webhook_headers": map[string]any{"X-Seed": "{{seed}}"}}),
			step(3, "GET", u+"/dag3", map[string]any{"depends_on_step": 1}),
			step(4, "POST", u+"/dag4", map[string]any{"depends_on_step": 2,
				"webhook_body": map[string]any{"b": "{{b}}", "c": "{{c}}"}}),
			step(5, "POST", u+"/dag5", map[string]any{"depends_on_step": 4,
				"webhook_body": map[string]any{"d": "{{d}}"}}),
		}, []any{variable("seed", "seed", 1, "string"), variable("b", "b", 2, "integer"),
			variable("c", "c", 3, "integer"), variable("d", "d", 4, "string")})
	}},
	{Key: "e", Name: "event fanned out to 10 1-step flows", Steps: 1, FinalStep: 1, Event: "bench.fanout", Fanout: 10,
		def: func(u string) map[string]any {
			f := flowDef("bench e: event subscriber", []any{
				step(1, "POST", u+"/e", map[string]any{"webhook_body": map[string]any{"event": "{{event_id}}", "id": "{{$execution_id}}"}}),
			}, []any{})
			f["events"] = []string{"bench.fanout"}
			f["flow_mapping"] = map[string]any{"event_id": "id"}
			return f
		}},
}

func workloadByKey(k string) (workload, bool) {
	for _, w := range workloads {
		if w.Key == k {
			return w, true
		}
	}
	return workload{}, false
}

// tenant is the company the benchmark's flows belong to.
type tenant struct {
	companyID uuid.UUID
	token     string
	flows     map[string]uuid.UUID // by workload key
}

// setupTenant creates a company token and one flow per workload through
// the API (POST /v1/webhooks), so the definitions pass flowd's validation.
func setupTenant(ctx context.Context, fs *flowdStack, targetURL string) (*tenant, error) {
	tn := &tenant{companyID: uuid.New(), flows: map[string]uuid.UUID{}}
	token, _, err := auth.CreateToken(ctx, fs.store, tn.companyID, uuid.New(), "flowbench")
	if err != nil {
		return nil, err
	}
	tn.token = token
	for _, w := range workloads {
		for range w.perTrigger() {
			id, err := createFlow(ctx, fs.url, token, w.def(targetURL))
			if err != nil {
				return nil, fmt.Errorf("create flow %s: %w", w.Key, err)
			}
			tn.flows[w.Key] = id
		}
	}
	return tn, nil
}

func createFlow(ctx context.Context, apiURL, token string, def map[string]any) (uuid.UUID, error) {
	body, _ := json.Marshal(def)
	req, err := http.NewRequestWithContext(ctx, "POST", apiURL+"/v1/webhooks", bytes.NewReader(body))
	if err != nil {
		return uuid.Nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return uuid.Nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return uuid.Nil, fmt.Errorf("answer %d: %s", resp.StatusCode, raw)
	}
	var env struct{ Data flow.Flow }
	if err := json.Unmarshal(raw, &env); err != nil {
		return uuid.Nil, fmt.Errorf("decode answer: %w", err)
	}
	return env.Data.ID, nil
}
