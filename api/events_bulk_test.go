package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/internal/testdb"
	"github.com/flowd/flowd/scheduler"
	"github.com/flowd/flowd/store"
)

// bulkTenant makes a company with a token and n flows subscribed to
// call.ended, stored through the store in one transaction (n API calls
// would take most of the test's time for nothing it checks).
func bulkTenant(t *testing.T, st *store.Store, n int) *flowdtest.Tenant {
	t.Helper()
	ctx := context.Background()
	tn := &flowdtest.Tenant{CompanyID: uuid.New(), UserID: uuid.New()}
	token, _, err := auth.CreateToken(ctx, st, tn.CompanyID, tn.UserID, "bulk")
	if err != nil {
		t.Fatal(err)
	}
	tn.Token = token
	raw, err := json.Marshal(subscribedFlow("bulk", "https://crm.example.com/calls", []string{"call.ended"}, ""))
	if err != nil {
		t.Fatal(err)
	}
	in, err := flow.DecodeFlow(raw)
	if err != nil {
		t.Fatal(err)
	}
	err = st.InTx(ctx, func(tx *store.Store) error {
		for range n {
			if _, err := tx.FlowCreate(ctx, tn.CompanyID, tn.UserID, in, "whsec_bulk"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("create %d flows: %v", n, err)
	}
	return tn
}

// TestEventPublishThousandFlows publishes to 1,000 subscribed flows, on a
// database of its own with an insert-only scheduler (nothing runs the
// executions): a failure part-way starts nothing, and a publish takes the
// same number of SQL statements for 1 subscribed flow as for 1,000. How
// long it takes is measured by `make bench`, not here.
func TestEventPublishThousandFlows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, counter := countedPool(t, testdb.NewDatabase(t))
	st := store.New(pool, testdb.Keys())
	// River sends its insert notification at most once per FetchCooldown,
	// so whether a publish sends one depends on the time since the last:
	// it is left out of the count (it is one statement, whatever the jobs).
	counter.skip = "PGNotifyMany"
	sched, err := scheduler.New(pool, st, &scheduler.Config{Logger: flowdtest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := flowdtest.NewServer(t, api.New(st, sched, &api.Config{RateLimit: -1}).Handler())
	one, many := bulkTenant(t, st, 1), bulkTenant(t, st, 1000)
	body := map[string]any{"type": "call.ended", "data": map[string]any{"duration": 42}}
	counts := func() (events, executions, jobs int) {
		t.Helper()
		err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM executions),
			(SELECT count(*) FROM river_job)`).Scan(&events, &executions, &jobs)
		if err != nil {
			t.Fatal(err)
		}
		return events, executions, jobs
	}

	t.Run("a failure part-way starts nothing", func(t *testing.T) {
		_, err := pool.Exec(ctx, `CREATE SEQUENCE execution_inserts;
			CREATE FUNCTION fail_500th_execution() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF nextval('execution_inserts') = 500 THEN
					RAISE EXCEPTION 'the 500th execution insert fails';
				END IF;
				RETURN NEW;
			END $$;
			CREATE TRIGGER fail_500th BEFORE INSERT ON executions
				FOR EACH ROW EXECUTE FUNCTION fail_500th_execution();`)
		if err != nil {
			t.Fatal(err)
		}
		r := srv.Do(t, many, "POST", "/v1/events", body)
		if r.Code != http.StatusInternalServerError {
			t.Errorf("publish with a failing 500th insert: %d %s", r.Code, r.Raw)
		}
		var inserts int
		if err := pool.QueryRow(ctx, `SELECT last_value FROM execution_inserts`).Scan(&inserts); err != nil || inserts != 500 {
			t.Errorf("the trigger saw %d inserts (%v); want it to fail the 500th", inserts, err)
		}
		if ev, x, j := counts(); ev+x+j != 0 {
			t.Errorf("after the failed publish: %d events, %d executions, %d jobs; want none", ev, x, j)
		}
		if _, err := pool.Exec(ctx, `DROP TRIGGER fail_500th ON executions`); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("the statement count does not grow with the flows", func(t *testing.T) {
		publishCounted := func(tn *flowdtest.Tenant, want int) (*flow.Event, int64) {
			t.Helper()
			srv.Do(t, tn, "GET", "/v1/events?limit=1", nil) // warm the token cache
			before := counter.n.Load()
			ev := publish(t, srv, tn, body)
			n := counter.n.Load() - before
			if len(ev.Executions) != want {
				t.Fatalf("publish started %d executions; want %d", len(ev.Executions), want)
			}
			return ev, n
		}
		_, n1 := publishCounted(one, 1)
		ev, n1000 := publishCounted(many, 1000)
		t.Logf("POST /v1/events: %d statements for 1 subscribed flow, %d for 1,000", n1, n1000)
		if n1 != n1000 || n1 > 6 {
			t.Errorf("POST /v1/events ran %d statements for 1 subscribed flow and %d for 1,000; want the same small number", n1, n1000)
		}
		var executions, jobs int
		err := pool.QueryRow(ctx, `SELECT count(*), count(j.id) FROM executions e
			LEFT JOIN river_job j ON j.id = e.job_id AND j.args->>'execution_id' = e.id::text
			WHERE e.event_id = $1 AND e.trigger = 'event'`, ev.ID).Scan(&executions, &jobs)
		if err != nil || executions != 1000 || jobs != 1000 {
			t.Errorf("the event has %d executions and %d jobs (%v); want 1,000 of each", executions, jobs, err)
		}
	})
}
