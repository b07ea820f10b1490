package store_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/testdb"
	"github.com/flowd/flowd/keyring"
	"github.com/flowd/flowd/store"
)

// The secrets of keysBundle's flow.
const (
	secretValue  = "crm-key-SECRET-42"
	newValue     = "crm-key-SECRET-43"
	hookSecret   = "whsec_hook-SECRET-44"
	triggerValue = "crm-key-SECRET-46-trigger"
)

// signingSecret is the flow's outbound signing secret.
var signingSecret = flow.NewSigningSecret()

type keysBundle struct {
	pool    *pgxpool.Pool
	company uuid.UUID
	flowID  uuid.UUID
	execID  uuid.UUID
}

// setupKeys makes a database of the test's own (the walks read every
// flow) holding one flow with a secret variable, a signing secret and a
// hook secret sealed under keys, replaced once (two definition versions).
func setupKeys(t *testing.T, keys *keyring.Ring) *keysBundle {
	t.Helper()
	pool := testdb.NewPool(t)
	b := &keysBundle{pool: pool, company: uuid.New()}
	st := store.New(pool, keys)
	def := `{"name": "keys", "signing_secret": "` + signingSecret + `",
		"predefinedVariables": [{"name": "crm", "value": "` + secretValue + `", "secret": true}, {"name": "plain", "value": "visible"}],
		"steps": [{"step_number": 1, "webhook_method": "POST", "webhook_url": "https://example.com/{{crm}}"}]}`
	f, err := st.FlowCreate(t.Context(), b.company, uuid.New(), decode(t, def), hookSecret)
	if err != nil {
		t.Fatal(err)
	}
	b.flowID = f.ID
	if _, err := st.FlowReplace(t.Context(), b.company, f.ID, decode(t, def)); err != nil {
		t.Fatal(err)
	}
	// An execution given the secret at trigger time.
	b.execID = b.insertExecution(t, st, `{"crm": "`+triggerValue+`", "plain": "x"}`, []string{"crm"})
	return b
}

// insertExecution stores an execution of the bundle's flow triggered with
// vars, the values of secret sealed as a trigger seals them, and returns
// its id.
func (b *keysBundle) insertExecution(t *testing.T, st *store.Store, vars string, secret []string) uuid.UUID {
	t.Helper()
	sealed, err := st.SealVariables(json.RawMessage(vars), secret)
	if err != nil {
		t.Fatal(err)
	}
	e := &flow.Execution{ExecutionSummary: flow.ExecutionSummary{ID: uuid.New(), Status: flow.ExecutionStatusScheduled, AttemptNumber: 1},
		FlowID: b.flowID, CompanyID: b.company, FlowVersion: 2, Trigger: flow.TriggerManual, Variables: sealed}
	if _, err := st.ExecutionsInsert(t.Context(), []*flow.Execution{e}, nil); err != nil {
		t.Fatal(err)
	}
	return e.ID
}

func decode(t *testing.T, def string) *flow.FlowInput {
	t.Helper()
	in, err := flow.DecodeFlow([]byte(def))
	if err != nil {
		t.Fatalf("decode flow: %v", err)
	}
	return in
}

func ring(t *testing.T, spec string) *keyring.Ring {
	t.Helper()
	r, err := keyring.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkReadable reads every secret of the bundle's flow back through st.
func (b *keysBundle) checkReadable(t *testing.T, st *store.Store, wantVar string) {
	t.Helper()
	f, err := st.FlowGet(t.Context(), b.company, b.flowID)
	if err != nil {
		t.Fatalf("get flow: %v", err)
	}
	if got := string(f.PredefinedVariables[0].Value); got != `"`+wantVar+`"` || !f.PredefinedVariables[0].Secret {
		t.Errorf("secret variable read back as %s (secret %v), want %q", got, f.PredefinedVariables[0].Secret, wantVar)
	}
	def, err := st.FlowDefinition(t.Context(), b.company, b.flowID, f.Version)
	if err != nil {
		t.Fatalf("get definition: %v", err)
	}
	if string(def.PredefinedVariables[0].Value) != `"`+wantVar+`"` {
		t.Errorf("definition read back with variable %s", def.PredefinedVariables[0].Value)
	}
	hook, _, err := st.FlowHookSecretForHook(t.Context(), b.flowID)
	if err != nil || hook != hookSecret {
		t.Errorf("hook secret read back as %q, %v", hook, err)
	}
	e, signing, err := st.ExecutionGetForRun(t.Context(), b.execID)
	if err != nil || !strings.Contains(string(e.Variables), `"crm":"`+triggerValue+`"`) {
		t.Errorf("execution variables read back as %s, %v", e.Variables, err)
	}
	if signing.Current != signingSecret {
		t.Errorf("signing secret read back as %q", signing.Current)
	}
}

// checkDump fails when a secret is stored in clear anywhere.
func (b *keysBundle) checkDump(t *testing.T) string {
	t.Helper()
	dump := testdb.TextDump(t, b.pool)
	for _, s := range []string{secretValue, newValue, hookSecret, signingSecret, triggerValue} {
		if strings.Contains(dump, s) {
			t.Errorf("the database holds %q in clear", s)
		}
	}
	return dump
}

// TestKeyRotation seals under an old key, rotates with the new key first
// (in batches of one row), then runs with the new key alone.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := keyring.Generate(), keyring.Generate()
	b := setupKeys(t, ring(t, oldKey))
	b.checkDump(t)

	both := store.New(b.pool, ring(t, newKey+","+oldKey))
	rep, err := both.SecretsRotate(t.Context(), 1)
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	// flows: hook, signing, variable; two versions: variable; the
	// execution's trigger value.
	if rep.Values != 6 || rep.Rewritten != 6 || rep.Plaintext != 0 {
		t.Errorf("rotation report %+v, want 6 secrets, all rewritten", rep)
	}
	if again, err := both.SecretsRotate(t.Context(), 1); err != nil || again.Rewritten != 0 {
		t.Errorf("a second rotation rewrote %d, %v; want nothing to do", again.Rewritten, err)
	}

	onlyNew := store.New(b.pool, ring(t, newKey))
	rep, err = onlyNew.SecretsVerify(t.Context())
	if err != nil {
		t.Fatalf("start-up check with the new key alone: %v", err)
	}
	if newID, _, _ := strings.Cut(newKey, ":"); len(rep.KeyIDs()) != 1 || rep.KeyIDs()[0] != newID {
		t.Errorf("keys in use after rotation %v, want only %s", rep.KeyIDs(), newID)
	}
	b.checkReadable(t, onlyNew, secretValue)
	b.checkDump(t)
}

// TestWrongKeyFailsCleanly starts with a key that is not the one that
// sealed (another id, then the same id with other bytes): the check fails
// naming the key id, and nothing stored changes.
func TestWrongKeyFailsCleanly(t *testing.T) {
	t.Parallel()
	right := keyring.Generate()
	b := setupKeys(t, ring(t, right))
	before := b.checkDump(t)
	rightID, _, _ := strings.Cut(right, ":")
	_, otherBytes, _ := strings.Cut(keyring.Generate(), ":")

	for _, tc := range []struct {
		name, spec string
		want       error
	}{
		{"MissingKey", keyring.Generate(), keyring.ErrUnknownKey},
		{"SameIDOtherKey", rightID + ":" + otherBytes, keyring.ErrWrongKey},
	} {
		st := store.New(b.pool, ring(t, tc.spec))
		if _, err := st.SecretsVerify(t.Context()); !errors.Is(err, tc.want) || !strings.Contains(err.Error(), rightID) {
			t.Errorf("%s: start-up check error %v, want %v naming key %s", tc.name, err, tc.want, rightID)
		}
		if _, err := st.SecretsRotate(t.Context(), 1); !errors.Is(err, tc.want) {
			t.Errorf("%s: rotate error %v, want %v", tc.name, err, tc.want)
		}
		if _, err := st.FlowGet(t.Context(), b.company, b.flowID); !errors.Is(err, tc.want) {
			t.Errorf("%s: reading the flow: %v, want %v", tc.name, err, tc.want)
		}
	}
	if after := testdb.TextDump(t, b.pool); after != before {
		t.Error("a failed start-up check or rotation changed what is stored")
	}
	b.checkReadable(t, store.New(b.pool, ring(t, right)), secretValue)
}

// TestPlaintextUpgrade: secrets an older flowd stored in clear are read as
// they are, counted by the start-up check and sealed by
// SecretsSealPlaintext.
func TestPlaintextUpgrade(t *testing.T) {
	t.Parallel()
	keys := ring(t, keyring.Generate())
	b := setupKeys(t, keys)
	_, err := b.pool.Exec(t.Context(), `UPDATE flows SET hook_secret = $2, signing_secret = $3 WHERE id = $1`,
		b.flowID, hookSecret, signingSecret)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(b.pool, keys)
	b.checkReadable(t, st, secretValue)
	rep, err := st.SecretsVerify(t.Context())
	if err != nil || rep.Plaintext != 2 {
		t.Fatalf("start-up check: %+v, %v; want 2 secrets in clear", rep, err)
	}
	if rep, err := st.SecretsSealPlaintext(t.Context(), 1); err != nil || rep.Rewritten != 2 {
		t.Fatalf("seal plaintext: %+v, %v; want 2 sealed", rep, err)
	}
	b.checkDump(t)
	b.checkReadable(t, st, secretValue)
}

// TestSecretKeptOnReplace: a replacement that sends a secret without its
// value (as answers show it) keeps the stored value; a new value replaces
// it.
func TestSecretKeptOnReplace(t *testing.T) {
	t.Parallel()
	keys := ring(t, keyring.Generate())
	b := setupKeys(t, keys)
	st := store.New(b.pool, keys)
	steps := `"steps": [{"step_number": 1, "webhook_method": "POST", "webhook_url": "https://example.com/{{crm}}"}]`
	for _, tc := range []struct{ value, want string }{
		{`null`, secretValue},
		{``, secretValue},
		{`"` + newValue + `"`, newValue},
	} {
		pv := `{"name": "crm", "secret": true}`
		if tc.value != "" {
			pv = `{"name": "crm", "secret": true, "value": ` + tc.value + `}`
		}
		_, err := st.FlowReplace(t.Context(), b.company, b.flowID, decode(t, `{"name": "keys",
			"predefinedVariables": [`+pv+`, {"name": "plain", "value": "visible"}], `+steps+`}`))
		if err != nil {
			t.Fatalf("replace with value %q: %v", tc.value, err)
		}
		b.checkReadable(t, st, tc.want)
	}
	b.checkDump(t)
}

// TestLookalikeTriggerValueIsNotASecret: a trigger value of an ordinary
// variable that looks sealed (anyone who may trigger can send one) is
// stored so that it reads back exactly as given, and neither the worker's
// read nor the start-up check nor a rotation fails on it.
func TestLookalikeTriggerValueIsNotASecret(t *testing.T) {
	t.Parallel()
	key := keyring.Generate()
	b := setupKeys(t, ring(t, key))
	st := store.New(b.pool, ring(t, key))
	const lookalike = keyring.Prefix + "x"
	id := b.insertExecution(t, st, `{"note": "`+lookalike+`", "n": 1}`, nil)
	got, _, err := st.ExecutionGetForRun(t.Context(), id)
	if err != nil {
		t.Fatalf("the worker's read of the execution: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(got.Variables, &m); err != nil || m["note"] != lookalike || m["n"] != 1.0 {
		t.Errorf("variables read back as %s (%v), want note %q and n 1 as given", got.Variables, err, lookalike)
	}
	if _, err := st.SecretsVerify(t.Context()); err != nil {
		t.Errorf("start-up check: %v", err)
	}
	if _, err := st.SecretsRotate(t.Context(), 10); err != nil {
		t.Errorf("rotation: %v", err)
	}
}
