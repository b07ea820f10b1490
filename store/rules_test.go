package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/testdb"
	"github.com/flowd/flowd/store"
)

// TestScheduleActiveIsTheTriggerRule: the schedule loop selects flows with
// a SQL predicate (it must match a partial index), not with
// flow.CheckTrigger; the two must agree on every stored flow state.
func TestScheduleActiveIsTheTriggerRule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx, err := testdb.Pool(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(ctx) })

	want := map[uuid.UUID]bool{}
	names := map[uuid.UUID]string{}
	for _, status := range []string{flow.FlowStatusScheduled, flow.FlowStatusRunning, flow.FlowStatusStopped, flow.FlowStatusDeleted} {
		for _, template := range []bool{false, true} {
			id := uuid.New()
			_, err := tx.Exec(ctx, `INSERT INTO flows (id, company_id, created_by, workspace_id, name,
					retry_delay, retry_delay_unit, max_retries, status, is_template, flow_direction, schedule,
					hook_secret, deleted_at)
				VALUES ($1, $2, $2, 'default', $3, 1, 'seconds', 0, $3, $4, 'outbound', '@hourly', 'secret',
					CASE WHEN $3 = 'deleted' THEN now() END)`, id, uuid.New(), status, template)
			if err != nil {
				t.Fatalf("insert %s flow: %v", status, err)
			}
			want[id] = flow.CheckTrigger(status, template) == nil
			names[id] = status
			if template {
				names[id] += " template"
			}
		}
	}
	ids := make([]uuid.UUID, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	rows, _ := tx.Query(ctx, `SELECT id FROM flows WHERE id = ANY($1) AND `+store.ScheduleActive, ids)
	selected, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		t.Fatal(err)
	}
	wantNames, gotNames := map[string]bool{}, map[string]bool{}
	for id, ok := range want {
		wantNames[names[id]] = ok
		gotNames[names[id]] = slices.Contains(selected, id)
	}
	if d := cmp.Diff(wantNames, gotNames); d != "" {
		t.Errorf("flows the schedule loop runs (-flow.CheckTrigger +SQL):\n%s", d)
	}
}
