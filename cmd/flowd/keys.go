package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/flowd/flowd/keyring"
	"github.com/flowd/flowd/store"
)

// The encryption keys' environment variables. Keys come from the
// environment or a file only, never from flags (ps shows flags).
const (
	envEncryptionKeys    = "FLOWD_ENCRYPTION_KEYS"
	envEncryptionKeyFile = "FLOWD_ENCRYPTION_KEY_FILE"
)

// errNoKeys is why serve, worker and keys rotate refuse to start without a
// key.
var errNoKeys = errors.New("no encryption key: set " + envEncryptionKeys + "=id:base64 (comma-separated; the first encrypts) or " +
	envEncryptionKeyFile + "=PATH; `flowd keys generate` prints a new key and `flowd keys generate --file PATH` writes one to a file")

// loadKeys reads the key ring from FLOWD_ENCRYPTION_KEYS or from the file
// FLOWD_ENCRYPTION_KEY_FILE names, and says which it used.
func loadKeys() (*keyring.Ring, string, error) {
	spec, file := os.Getenv(envEncryptionKeys), os.Getenv(envEncryptionKeyFile)
	switch {
	case spec != "" && file != "":
		return nil, "", fmt.Errorf("both %s and %s are set: use one", envEncryptionKeys, envEncryptionKeyFile)
	case spec != "":
		r, err := keyring.Parse(spec)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", envEncryptionKeys, err)
		}
		return r, envEncryptionKeys, nil
	case file != "":
		r, err := keyring.LoadFile(file)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", envEncryptionKeyFile, err)
		}
		return r, "key file " + file, nil
	}
	return nil, "", errNoKeys
}

// prepareSecrets checks at start-up that every stored secret opens with the
// configured keys (refusing to start, with nothing written, when one does
// not), then seals the secrets an older flowd stored in clear.
func prepareSecrets(ctx context.Context, st *store.Store, keys *keyring.Ring, source string, log *slog.Logger) error {
	rep, err := st.SecretsVerify(ctx)
	if err != nil {
		return fmt.Errorf("stored secrets do not decrypt with the configured keys (%s: %s); nothing was changed. "+
			"Configure every key that sealed them, the new one first: %w", source, strings.Join(keys.IDs(), ", "), err)
	}
	// Attribute names avoid "key" and "secret": the logger masks those.
	log.Info("encryption at rest", "source", source, "configured_ids", strings.Join(keys.IDs(), ","),
		"encrypting_id", keys.Primary(), "ids_in_use", strings.Join(rep.KeyIDs(), ","), "sealed_values", rep.Values-rep.Plaintext)
	if rep.Plaintext == 0 {
		return nil
	}
	sealed, err := st.SecretsSealPlaintext(ctx, store.SecretsBatchDefault)
	if err != nil {
		return fmt.Errorf("encrypt secrets stored in clear: %w", err)
	}
	log.Info("encrypted the values an older flowd stored in clear", "values", sealed.Rewritten, "encrypting_id", keys.Primary())
	return nil
}

const keysUsage = `usage:
  flowd keys generate [--file PATH]
      print a new key entry (id:base64 of 32 random bytes); with --file, write
      it as the first line of PATH (created with mode 0600; keys already there
      are kept after it, so they still decrypt)
  flowd keys rotate [--batch N]
      re-encrypt every stored secret under the first configured key, N rows
      per transaction (default 200), while flowd runs; then the old keys can
      be removed from ` + envEncryptionKeys + ` / the key file
`

// runKeys handles `flowd keys generate` and `flowd keys rotate`.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return errUsage
	}
	switch args[0] {
	case "generate":
		fs := newFlagSet("keys generate", stderr)
		file := fs.String("file", "", "write the key as the first line of this file")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		entry := keyring.Generate()
		if *file == "" {
			fmt.Fprintln(stdout, entry)
			return nil
		}
		if err := prependKey(*file, entry); err != nil {
			return err
		}
		id, _, _ := strings.Cut(entry, ":")
		fmt.Fprintf(stdout, "key %s written to %s (it now encrypts; set %s=%s)\n", id, *file, envEncryptionKeyFile, *file)
		return nil
	case "rotate":
		fs := newFlagSet("keys rotate", stderr)
		batch := fs.Int("batch", store.SecretsBatchDefault, "rows re-encrypted per transaction")
		dbURL := databaseURLFlag(fs)
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		keys, source, err := loadKeys()
		if err != nil {
			return err
		}
		pool, err := migratedPool(ctx, *dbURL, nil)
		if err != nil {
			return err
		}
		defer pool.Close()
		rep, err := store.New(pool, keys).SecretsRotate(ctx, *batch)
		if err != nil {
			return fmt.Errorf("rotate (%s); the batches before this one are re-encrypted, the rest is unchanged: %w", source, err)
		}
		fmt.Fprintf(stdout, "%d secrets, %d re-encrypted under key %s (keys in use before: %s)\n",
			rep.Values, rep.Rewritten, keys.Primary(), strings.Join(rep.KeyIDs(), ", "))
		return nil
	}
	fmt.Fprint(stderr, keysUsage)
	return errUsage
}

// prependKey writes entry as the first line of the key file at path,
// keeping what is there after it; a new file gets mode 0600.
func prependKey(path, entry string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read key file: %w", err)
	}
	if len(old) > 0 {
		if _, err := keyring.Parse(string(old)); err != nil {
			return fmt.Errorf("key file %s: %w", path, err)
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(entry+"\n"+string(old)), 0o600); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	return nil
}
