package keyring

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustParse(t *testing.T, spec string) *Ring {
	t.Helper()
	r, err := Parse(spec)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return r
}

func TestSealOpen(t *testing.T) {
	t.Parallel()

	r := mustParse(t, Generate())
	a, b := r.Seal("sk_live_123"), r.Seal("sk_live_123")
	if a == b {
		t.Error("two seals of one value are equal: the nonce is not random")
	}
	if strings.Contains(a, "sk_live_123") || !IsSealed(a) || KeyID(a) != r.Primary() {
		t.Errorf("sealed value %q: want the fdenc form under key %s without the plaintext", a, r.Primary())
	}
	got, err := r.Open(a)
	if err != nil || got != "sk_live_123" {
		t.Errorf("Open = %q, %v; want sk_live_123", got, err)
	}
}

// The first key seals, every key opens; a value under an unknown or a
// wrong key fails naming the key id.
func TestRotation(t *testing.T) {
	t.Parallel()

	oldEntry, newEntry := Generate(), Generate()
	old := mustParse(t, oldEntry)
	both := mustParse(t, newEntry+","+oldEntry)
	onlyNew := mustParse(t, newEntry)

	sealedOld := old.Seal("v")
	resealed, changed, err := both.Reseal(sealedOld)
	if err != nil || !changed || KeyID(resealed) != both.Primary() {
		t.Fatalf("Reseal = %q, %v, %v; want a change to key %s", resealed, changed, err, both.Primary())
	}
	if again, changed, err := both.Reseal(resealed); err != nil || changed || again != resealed {
		t.Errorf("Reseal of a value under the first key = %v, %v; want it kept", changed, err)
	}
	if got, err := onlyNew.Open(resealed); err != nil || got != "v" {
		t.Errorf("Open after rotation = %q, %v", got, err)
	}
	_, err = onlyNew.Open(sealedOld)
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), old.Primary()) {
		t.Errorf("Open under a removed key: %v; want ErrUnknownKey naming %s", err, old.Primary())
	}
	wrong := mustParse(t, old.Primary()+":"+strings.SplitN(Generate(), ":", 2)[1])
	if _, err := wrong.Open(sealedOld); !errors.Is(err, ErrWrongKey) {
		t.Errorf("Open with another key under the same id: %v; want ErrWrongKey", err)
	}
	if plain, changed, err := both.Reseal("plaintext"); err != nil || !changed || !IsSealed(plain) {
		t.Errorf("Reseal of a plaintext = %q, %v, %v; want it sealed", plain, changed, err)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()

	for _, spec := range []string{"", "nokey", "bad id:AAAA", "k1:not-base64!", "k1:AAAA", Generate() + "\n" + "k:" + strings.Repeat("A", 44)} {
		_, err := Parse(spec)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", spec)
			continue
		}
		if tail := strings.SplitN(spec, ":", 2); len(tail) == 2 && len(tail[1]) > 8 && strings.Contains(err.Error(), tail[1]) {
			t.Errorf("Parse error %q shows the key", err)
		}
	}
	dup := Generate()
	if _, err := Parse(dup + "," + dup); err == nil {
		t.Error("Parse accepted a key id configured twice")
	}
}

func TestLoadFile(t *testing.T) {
	t.Parallel()

	path := filepath.Join(t.TempDir(), "keys")
	entry := Generate()
	if err := os.WriteFile(path, []byte("# flowd keys\n"+entry+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want, _, _ := strings.Cut(entry, ":"); r.Primary() != want {
		t.Errorf("Primary = %q, want %q", r.Primary(), want)
	}
}
