package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/store"
)

// TestSigningSecretLifecycle follows a flow's signing secrets through
// create, replace and rotation: a new secret keeps the previous one
// signing for flow.SigningSecretOverlap, no definition version holds a
// secret, and another company's or a deleted flow cannot be rotated.
func TestSigningSecretLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	decode := func(secret string) *flow.FlowInput {
		t.Helper()
		extra := ""
		if secret != "" {
			extra = `, "signing_secret": "` + secret + `"`
		}
		in, err := flow.DecodeFlow([]byte(`{"name": "signed", "steps": [{"step_number": 1, "webhook_method": "GET",
			"webhook_url": "https://example.com"}]` + extra + `}`))
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	// The overlap ends a fixed time after a rotation made at a known time;
	// a replace rotates at the store's clock, so that end is checked
	// within the test's own span.
	near := cmpopts.EquateApproxTime(time.Minute)
	check := func(what string, id uuid.UUID, want flow.SigningSecrets) {
		t.Helper()
		got, err := b.store.FlowSigningSecrets(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if diff := cmp.Diff(want, got, near); diff != "" {
			t.Errorf("%s: signing secrets (-want +got):\n%s", what, diff)
		}
	}
	s1, s2, s3 := flow.NewSigningSecret(), flow.NewSigningSecret(), flow.NewSigningSecret()

	f, err := b.store.FlowCreate(ctx, b.company, uuid.New(), decode(s1), "whsec_hook")
	if err != nil {
		t.Fatal(err)
	}
	if !f.HasSigningSecret {
		t.Error("created with a secret, has_signing_secret false")
	}
	check("created", f.ID, flow.SigningSecrets{Current: s1})

	if _, err := b.store.FlowReplace(ctx, b.company, f.ID, decode("")); err != nil {
		t.Fatal(err)
	}
	check("replaced without a secret", f.ID, flow.SigningSecrets{Current: s1})

	if _, err := b.store.FlowReplace(ctx, b.company, f.ID, decode(s2)); err != nil {
		t.Fatal(err)
	}
	overlapEnd := time.Now().Add(flow.SigningSecretOverlap)
	check("replaced with another secret", f.ID, flow.SigningSecrets{Current: s2, Previous: s1, PreviousUntil: &overlapEnd})

	at := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	if _, err := b.store.FlowRotateSigningSecret(ctx, uuid.New(), f.ID, s3, at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rotate another company's flow: want ErrNotFound, got %v", err)
	}
	ss, err := b.store.FlowRotateSigningSecret(ctx, b.company, f.ID, s3, at)
	if err != nil {
		t.Fatal(err)
	}
	end := at.Add(flow.SigningSecretOverlap)
	want := flow.SigningSecrets{Current: s3, Previous: s2, PreviousUntil: &end}
	if diff := cmp.Diff(want, ss); diff != "" {
		t.Errorf("rotation answer (-want +got):\n%s", diff)
	}
	check("rotated", f.ID, want)

	var definitions string
	if err := b.pool.QueryRow(ctx, `SELECT string_agg(definition::text, ' ') FROM flow_versions WHERE flow_id = $1`,
		f.ID).Scan(&definitions); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{s1, s2, s3} {
		if strings.Contains(definitions, strings.TrimPrefix(s, flow.SigningSecretPrefix)) {
			t.Errorf("a definition version holds signing secret %s", s)
		}
	}

	if _, err := b.store.FlowDelete(ctx, b.company, f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.FlowRotateSigningSecret(ctx, b.company, f.ID, flow.NewSigningSecret(), at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rotate a deleted flow: want ErrNotFound, got %v", err)
	}
	check("after the refused rotations", f.ID, want)
}
