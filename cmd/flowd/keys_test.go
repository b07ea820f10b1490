package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/testdb"
	"github.com/flowd/flowd/keyring"
	"github.com/flowd/flowd/store"
)

// serve and worker with no key at all refuse to start and say how to make
// one.
func TestServeRefusesWithoutKey(t *testing.T) {
	setEnv(t, "DATABASE_URL", "postgres://127.0.0.1:1/none", envEncryptionKeys, "", envEncryptionKeyFile, "")
	for name, run := range map[string]func(context.Context, []string, io.Writer, io.Writer) error{"serve": runServe, "worker": runWorker} {
		err := run(t.Context(), nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "flowd keys generate") || !strings.Contains(err.Error(), envEncryptionKeys) {
			t.Errorf("%s without a key: %v, want a refusal naming %s and `flowd keys generate`", name, err, envEncryptionKeys)
		}
	}
}

// `flowd keys generate --file` puts the new key first and keeps the old
// ones, in a file only its owner reads.
func TestKeysGenerateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flowd.keys")
	var ids []string
	for range 2 {
		var out bytes.Buffer
		if err := runKeys(t.Context(), []string{"generate", "--file", path}, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, strings.Fields(out.String())[1])
	}
	setEnv(t, envEncryptionKeys, "", envEncryptionKeyFile, path)
	keys, source, err := loadKeys()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(keys.IDs(), ","); got != ids[1]+","+ids[0] || !strings.Contains(source, path) {
		t.Errorf("key file holds %s (from %s), want %s then %s", got, source, ids[1], ids[0])
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
}

// Starting with a key that did not seal the stored secrets fails with a
// message naming the key id, and changes nothing; the right key starts.
func TestStartWithWrongKey(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(t.Context(), testdb.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	right, err := keyring.Parse(keyring.Generate())
	if err != nil {
		t.Fatal(err)
	}
	in, err := flow.DecodeFlow([]byte(`{"name": "k", "predefinedVariables": [{"name": "crm", "value": "crm-SECRET-start", "secret": true}],
		"steps": [{"step_number": 1, "webhook_method": "GET", "webhook_url": "https://example.com/{{crm}}"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.New(pool, right).FlowCreate(t.Context(), uuid.New(), uuid.New(), in, "whsec_start"); err != nil {
		t.Fatal(err)
	}
	before := testdb.TextDump(t, pool)
	wrong, err := keyring.Parse(keyring.Generate())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	err = prepareSecrets(t.Context(), store.New(pool, wrong), wrong, "test", log)
	if err == nil || !strings.Contains(err.Error(), right.Primary()) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("start with the wrong key: %v, want a refusal naming key %s", err, right.Primary())
	}
	if after := testdb.TextDump(t, pool); after != before {
		t.Error("a refused start changed what is stored")
	}
	if err := prepareSecrets(t.Context(), store.New(pool, right), right, "test", log); err != nil {
		t.Errorf("start with the right key: %v", err)
	}
}
