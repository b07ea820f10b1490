package store_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/store"
)

// acrossCompanies are the Store methods that do not act for one company,
// and why. Every other method takes a company and must refuse the zero
// one (TestZeroCompanyRefused).
var acrossCompanies = map[string]string{
	"Pool": "plumbing", "Ping": "plumbing", "InTx": "plumbing", "InGroupTx": "plumbing", "Tx": "plumbing",
	"ExecutionsGetForRun":   "the worker: a River job names its execution (and so its flow's signing secrets) by id only",
	"ExecutionGetForRun":    "tests only (export_test.go): ExecutionsGetForRun of one id",
	"FlowDefinitionForRun":  "the worker: the definition of the execution it runs",
	"FlowSigningSecrets":    "tests only (export_test.go): what ExecutionsGetForRun reads, for a flow without executions",
	"Setting":               "tests only (export_test.go): a run-time parameter of the connection",
	"ExecutionCommit":       "the worker's group commit, by execution id",
	"FlowHookSecretForHook": "the public hook endpoint learns the flow's company here",
	"TokenGetByHash":        "authentication learns the token's company here",
	"TokenTouch":            "authentication records the use of the token it found, by id",
	"TokenCompany":          "the operator's flowd token revoke names a token by id only",
	"ScheduleListUnarmed":   "the schedule loop, over every company's flows",
	"ScheduleArm":           "the schedule loop",
	"ScheduleLockDue":       "the schedule loop",
	"ScheduleAdvance":       "the schedule loop",
	"ScheduleNextDue":       "the schedule loop",
	"WorkerHeartbeat":       "process liveness",
	"WorkerStopped":         "process liveness",
	"WorkerDeleteDead":      "process liveness",
	"JobRescueOrphans":      "process liveness",
	"OpenPruneSession":      "retention: the operator's, over every company's rows",
	"OpenVacuumSession":     "retention: the operator's, over every company's rows",
	"PruneBatch":            "retention: the operator's, over every company's rows",
	"PruneCount":            "retention: the operator's, over every company's rows",
	"PruneVacuum":           "retention: the operator's, over every company's rows",
	"SecretsVerify":         "start-up: every company's stored secrets must open with the configured keys",
	"SecretsSealPlaintext":  "start-up: the upgrade seals every company's secrets stored in clear",
	"SecretsRotate":         "flowd keys rotate: every company's secrets under the new key",
	"SealVariables":         "no query: seals a trigger's values for the execution insert",
}

// TestZeroCompanyRefused calls every Store method that acts for a company
// with the zero company id and the ids of real rows (of another company),
// which a wildcard would match: each answers store.ErrNoCompany and
// changes nothing.
func TestZeroCompanyRefused(t *testing.T) {
	t.Parallel()
	b, f, e := setupExecution(t, 2)
	ctx := context.Background()
	in, err := flow.DecodeFlow([]byte(`{"name": "replaced", "steps": [{"step_number": 1, "webhook_method": "GET", "webhook_url": "https://example.com"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	nilCo := uuid.Nil
	tokenHash := []byte(uuid.NewString())
	newExec := func() *flow.Execution {
		return &flow.Execution{ExecutionSummary: flow.ExecutionSummary{ID: uuid.New(), Status: flow.ExecutionStatusScheduled, AttemptNumber: 1},
			FlowID: f.ID, FlowVersion: 1, Trigger: flow.TriggerManual}
	}
	tests := map[string]func(st *store.Store) error{
		"FlowCreate": func(st *store.Store) error {
			_, err := st.FlowCreate(ctx, nilCo, uuid.New(), in, "whsec_x")
			return err
		},
		"FlowReplace": func(st *store.Store) error { _, err := st.FlowReplace(ctx, nilCo, f.ID, in); return err },
		"FlowDelete":  func(st *store.Store) error { _, err := st.FlowDelete(ctx, nilCo, f.ID); return err },
		"FlowSetStatus": func(st *store.Store) error {
			_, err := st.FlowSetStatus(ctx, nilCo, f.ID, flow.FlowStatusStopped)
			return err
		},
		"FlowGet":              func(st *store.Store) error { _, err := st.FlowGet(ctx, nilCo, f.ID); return err },
		"FlowList":             func(st *store.Store) error { _, err := st.FlowList(ctx, nilCo, f.WorkspaceID); return err },
		"FlowRotateHookSecret": func(st *store.Store) error { return st.FlowRotateHookSecret(ctx, nilCo, f.ID, "whsec_y") },
		"FlowRotateSigningSecret": func(st *store.Store) error {
			_, err := st.FlowRotateSigningSecret(ctx, nilCo, f.ID, flow.NewSigningSecret(), time.Now())
			return err
		},
		"FlowRunInfo":    func(st *store.Store) error { _, err := st.FlowRunInfo(ctx, nilCo, f.ID); return err },
		"FlowDefinition": func(st *store.Store) error { _, err := st.FlowDefinition(ctx, nilCo, f.ID, 1); return err },
		"ExecutionGet":   func(st *store.Store) error { _, err := st.ExecutionGet(ctx, nilCo, e.ID); return err },
		"ExecutionGetByIdempotencyKey": func(st *store.Store) error {
			_, err := st.ExecutionGetByIdempotencyKey(ctx, nilCo, f.ID, "k")
			return err
		},
		"ExecutionListByFlow": func(st *store.Store) error {
			_, _, err := st.ExecutionListByFlow(ctx, nilCo, f.ID, "", 10, nil)
			return err
		},
		"ExecutionCancel": func(st *store.Store) error { _, err := st.ExecutionCancel(ctx, nilCo, e.ID); return err },
		"ExecutionLock":   func(st *store.Store) error { _, err := st.ExecutionLock(ctx, nilCo, e.ID); return err },
		"ExecutionRequeue": func(st *store.Store) error {
			return st.ExecutionRequeue(ctx, nilCo, flow.ExecutionUpdate{ID: e.ID, Status: flow.ExecutionStatusScheduled, AttemptNumber: 9}, 1)
		},
		"ExecutionHoursByFlow": func(st *store.Store) error {
			_, err := st.ExecutionHoursByFlow(ctx, nilCo, []uuid.UUID{f.ID}, time.Now().Add(-time.Hour))
			return err
		},
		"StepAttemptListByExecution": func(st *store.Store) error {
			_, err := st.StepAttemptListByExecution(ctx, nilCo, e.ID)
			return err
		},
		"ExecutionsInsert": func(st *store.Store) error {
			_, err := st.ExecutionsInsert(ctx, []*flow.Execution{newExec()}, nil)
			return err
		},
		"EventSubscribers": func(st *store.Store) error {
			_, err := st.EventSubscribers(ctx, nilCo, f.WorkspaceID, "call.ended")
			return err
		},
		"EventsInsert": func(st *store.Store) error {
			_, err := st.EventsInsert(ctx, []*flow.Event{{ID: uuid.New(), Type: "call.ended", WorkspaceID: "default", CreatedAt: time.Now()}})
			return err
		},
		"EventGet": func(st *store.Store) error { _, err := st.EventGet(ctx, nilCo, uuid.New()); return err },
		"EventGetByIdempotencyKey": func(st *store.Store) error {
			_, err := st.EventGetByIdempotencyKey(ctx, nilCo, "k")
			return err
		},
		"EventList": func(st *store.Store) error { _, _, err := st.EventList(ctx, nilCo, "", 10, nil); return err },
		"TokenInsert": func(st *store.Store) error {
			return st.TokenInsert(ctx, &store.Token{ID: uuid.New(), UserID: uuid.New(), Hash: tokenHash, Scope: "read"})
		},
		"TokenList":   func(st *store.Store) error { _, err := st.TokenList(ctx, nilCo); return err },
		"TokenRevoke": func(st *store.Store) error { _, err := st.TokenRevoke(ctx, nilCo, uuid.New()); return err },
		"AuditInsert": func(st *store.Store) error {
			return st.AuditInsert(ctx, &store.AuditEntry{Action: store.AuditFlowStop, TargetType: store.AuditTargetFlow, TargetID: f.ID})
		},
		"AuditList": func(st *store.Store) error { _, _, err := st.AuditList(ctx, nilCo, uuid.Nil, 10, nil); return err },
	}

	// Every method is either tested here or listed as reading across
	// companies: a new method must choose.
	typ := reflect.TypeFor[*store.Store]()
	for i := range typ.NumMethod() {
		name := typ.Method(i).Name
		_, tenant := tests[name]
		_, across := acrossCompanies[name]
		if tenant == across {
			t.Errorf("Store.%s must be either in the zero-company table (it acts for a company) or in acrossCompanies (with the reason), not %s",
				name, map[bool]string{true: "both", false: "neither"}[tenant])
		}
	}

	for name, call := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// In a transaction, so that the functions that need one get
			// as far as the company check.
			err := b.store.InTx(ctx, func(tx *store.Store) error { return call(tx) })
			if !errors.Is(err, store.ErrNoCompany) {
				t.Fatalf("%s with the zero company: want store.ErrNoCompany, got %v", name, err)
			}
			if !strings.Contains(err.Error(), "zero UUID") {
				t.Errorf("error %q does not say what is wrong", err)
			}
		})
	}

	// Nothing was changed or created through the refused calls.
	t.Cleanup(func() {
		got, err := b.store.FlowGet(ctx, b.company, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != f.Name || got.Version != 1 || got.DeletedAt != nil || got.Status == flow.FlowStatusStopped {
			t.Errorf("the flow changed: name %q version %d deleted %v status %s", got.Name, got.Version, got.DeletedAt, got.Status)
		}
		ge, err := b.store.ExecutionGet(ctx, b.company, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ge.Status != flow.ExecutionStatusScheduled || ge.AttemptNumber != 1 {
			t.Errorf("the execution changed: %s attempt %d", ge.Status, ge.AttemptNumber)
		}
		var n int
		if err := b.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM executions WHERE flow_id = $1) +
			(SELECT count(*) FROM flows WHERE company_id = $2) + (SELECT count(*) FROM api_tokens WHERE token_hash = $3) +
			(SELECT count(*) FROM audit_log WHERE company_id = $2)`,
			f.ID, uuid.Nil, tokenHash).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%d executions of the flow, flows of the zero company and refused tokens; want 1 (the flow's own execution)", n)
		}
	})
}

// TestReadsForOneCompany: the tenant reads do not see another company's
// rows (404, as ErrNotFound), while the worker's reads across companies
// do.
func TestReadsForOneCompany(t *testing.T) {
	t.Parallel()
	b, f, e := setupExecution(t, 1)
	ctx := context.Background()
	other := uuid.New()
	for name, call := range map[string]func() error{
		"FlowGet":        func() error { _, err := b.store.FlowGet(ctx, other, f.ID); return err },
		"FlowRunInfo":    func() error { _, err := b.store.FlowRunInfo(ctx, other, f.ID); return err },
		"FlowDefinition": func() error { _, err := b.store.FlowDefinition(ctx, other, f.ID, 1); return err },
		"ExecutionGet":   func() error { _, err := b.store.ExecutionGet(ctx, other, e.ID); return err },
	} {
		if err := call(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s for another company: want ErrNotFound, got %v", name, err)
		}
	}
	list, _, err := b.store.ExecutionListByFlow(ctx, other, f.ID, "", 10, nil)
	if err != nil || len(list) != 0 {
		t.Errorf("ExecutionListByFlow for another company: %d executions, %v; want none", len(list), err)
	}
	attempts, err := b.store.StepAttemptListByExecution(ctx, other, e.ID)
	if err != nil || len(attempts) != 0 {
		t.Errorf("StepAttemptListByExecution for another company: %d attempts, %v; want none", len(attempts), err)
	}

	got, _, err := b.store.ExecutionGetForRun(ctx, e.ID)
	if err != nil || got.ID != e.ID || got.CompanyID != b.company {
		t.Errorf("ExecutionGetForRun: %+v, %v", got, err)
	}
	def, err := b.store.FlowDefinitionForRun(ctx, f.ID, 1)
	if err != nil || def.FlowID != f.ID || len(def.Steps) != 1 {
		t.Errorf("FlowDefinitionForRun: %+v, %v", def, err)
	}
	secret, company, err := b.store.FlowHookSecretForHook(ctx, f.ID)
	if err != nil || secret != "whsec_test" || company != b.company {
		t.Errorf("FlowHookSecretForHook: %q %s %v", secret, company, err)
	}
}

// TestLocksNeedTransaction: the functions whose row locks must outlive
// them refuse to run on the pool.
func TestLocksNeedTransaction(t *testing.T) {
	t.Parallel()
	b, _, e := setupExecution(t, 1)
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"ExecutionLock":   func() error { _, err := b.store.ExecutionLock(ctx, b.company, e.ID); return err },
		"ExecutionCancel": func() error { _, err := b.store.ExecutionCancel(ctx, b.company, e.ID); return err },
		"ScheduleLockDue": func() error { _, _, err := b.store.ScheduleLockDue(ctx, 1); return err },
	} {
		if err := call(); err == nil || !strings.Contains(err.Error(), "must run in a transaction") {
			t.Errorf("%s on the pool: want a must-run-in-a-transaction error, got %v", name, err)
		}
	}
	if got, err := b.store.ExecutionGet(ctx, b.company, e.ID); err != nil || got.Status != flow.ExecutionStatusScheduled {
		t.Errorf("execution after refused cancel: %v, %v", got, err)
	}
}

// TestInTx: a Store bound to a transaction sees its own writes, hands the
// same pgx.Tx out (for River), commits on nil and rolls back on error;
// nested InTx is a savepoint.
func TestInTx(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	f := b.createFlow(t, 1)
	if b.store.Tx() != nil {
		t.Error("a Store on the pool has a transaction")
	}
	boom := errors.New("boom")
	insert := func(st *store.Store, e **flow.Execution) error {
		*e = newExecution(f)
		_, err := st.ExecutionsInsert(ctx, []*flow.Execution{*e}, nil)
		return err
	}
	var kept, dropped, gone *flow.Execution
	err := b.store.InTx(ctx, func(tx *store.Store) error {
		if tx.Tx() == nil {
			t.Error("a Store in InTx has no transaction")
		}
		if err := insert(tx, &kept); err != nil {
			return err
		}
		var n int
		if err := tx.Tx().QueryRow(ctx, `SELECT count(*) FROM executions WHERE id = $1`, kept.ID).Scan(&n); err != nil || n != 1 {
			t.Errorf("the pgx.Tx of the Store does not see its insert: %d, %v", n, err)
		}
		err := tx.InTx(ctx, func(inner *store.Store) error {
			return errors.Join(insert(inner, &dropped), boom)
		})
		if !errors.Is(err, boom) {
			t.Errorf("inner InTx: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.ExecutionGet(ctx, b.company, kept.ID); err != nil {
		t.Errorf("committed execution: %v", err)
	}
	if _, err := b.store.ExecutionGet(ctx, b.company, dropped.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("execution of the rolled back savepoint: want ErrNotFound, got %v", err)
	}

	err = b.store.InTx(ctx, func(tx *store.Store) error {
		return errors.Join(insert(tx, &gone), boom)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx: want boom, got %v", err)
	}
	if _, err := b.store.ExecutionGet(ctx, b.company, gone.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("execution of the rolled back transaction: want ErrNotFound, got %v", err)
	}
}

func newExecution(f *flow.Flow) *flow.Execution {
	return &flow.Execution{
		ExecutionSummary: flow.ExecutionSummary{ID: uuid.New(), Status: flow.ExecutionStatusScheduled, AttemptNumber: 1},
		FlowID:           f.ID, CompanyID: f.CompanyID, FlowVersion: f.Version, Trigger: flow.TriggerManual,
	}
}
