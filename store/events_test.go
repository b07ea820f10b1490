package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/testdb"
	"github.com/flowd/flowd/store"
)

// TestEventSubscribersIndexed: the subscribers of an event are found
// through the primary key of flow_event_subscriptions, reading only the
// matching rows, while the company has 5,000 other subscribed flows — the
// publisher never scans the company's flows. On a database of its own, so
// that ANALYZE sees only these rows.
func TestEventSubscribersIndexed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testdb.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	b := &testBundle{pool: pool, store: store.New(pool, testdb.Keys()), company: uuid.New()}
	// 5,000 flows subscribed to lead.created, written in bulk.
	_, err = pool.Exec(ctx, `WITH f AS (
			INSERT INTO flows (id, company_id, created_by, workspace_id, name, retry_delay, retry_delay_unit,
				max_retries, status, flow_direction, hook_secret, events)
			SELECT gen_random_uuid(), $1, $1, 'default', 'bulk ' || n, 1, 'seconds', 0, 'running', 'outbound', 'x', '{lead.created}'
			FROM generate_series(1, 5000) n RETURNING id)
		INSERT INTO flow_event_subscriptions (company_id, workspace_id, pattern, flow_id)
		SELECT $1, 'default', 'lead.created', id FROM f`, b.company)
	if err != nil {
		t.Fatal(err)
	}
	var want []uuid.UUID
	for _, patterns := range []string{`["call.ended"]`, `["call.*"]`, `["*", "call.ended"]`} {
		in, err := flow.DecodeFlow([]byte(`{"name": "sub", "events": ` + patterns + `,
			"steps": [{"step_number": 1, "webhook_method": "POST", "webhook_url": "https://example.com"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		f, err := b.store.FlowCreate(ctx, b.company, uuid.New(), in, "whsec_x")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, f.ID)
	}
	if _, err := pool.Exec(ctx, `ANALYZE flows, flow_event_subscriptions`); err != nil {
		t.Fatal(err)
	}
	subs, err := b.store.EventSubscribers(ctx, b.company, "default", "call.ended")
	if err != nil || len(subs) != len(want) {
		t.Fatalf("EventSubscribers: %d flows (%v); want %d, each once", len(subs), err, len(want))
	}
	for i, s := range subs {
		if s.FlowID != want[i] || s.Version != 1 || s.EventFilter != nil {
			t.Errorf("subscriber %d: %+v, want flow %s version 1", i, s, want[i])
		}
	}

	var raw []byte
	if err := pool.QueryRow(ctx, `EXPLAIN (ANALYZE, FORMAT JSON) `+store.EventSubscribersQuery,
		b.company, "default", flow.EventPatternsFor("call.ended")).Scan(&raw); err != nil {
		t.Fatalf("explain: %v", err)
	}
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal(raw, &plans); err != nil || len(plans) != 1 {
		t.Fatalf("explain output: %v: %s", err, raw)
	}
	var shape []string
	subsIndexed := false
	for _, p := range plans[0].Plan.find(func(p *planNode) bool { return p.RelationName != "" || p.IndexName != "" }) {
		shape = append(shape, fmt.Sprintf("%s %s %s rows=%d", p.NodeType, p.RelationName, p.IndexName, p.ActualRows))
		if p.NodeType == "Seq Scan" {
			t.Errorf("the lookup scans %s", p.RelationName)
		}
		if p.IndexName == "flow_event_subscriptions_pkey" {
			subsIndexed = true
			if p.ActualRows > 4 { // call.ended twice (one flow), call.*, *
				t.Errorf("the subscription index read %d rows; want only the matching ones", p.ActualRows)
			}
		}
	}
	if !subsIndexed {
		t.Errorf("flow_event_subscriptions_pkey does not serve the lookup")
	}
	t.Logf("plan: %v", shape)
}
