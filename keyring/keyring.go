package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// KeySize is the length of a key in bytes (AES-256).
const KeySize = 32

// Prefix starts every sealed value; the 1 is the format's version. A
// caller may look for it to skip documents holding no sealed value.
const Prefix = "fdenc:1:"

// keyID is the form of a key id: short, and free of the separator.
var keyID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// ErrUnknownKey is returned by Open for a value sealed with a key id the
// ring does not hold.
var ErrUnknownKey = errors.New("sealed with a key that is not configured")

// ErrWrongKey is returned by Open when the key of the value's id does not
// open it: another key was configured under the same id, or the value was
// altered.
var ErrWrongKey = errors.New("the key configured under this id does not decrypt it")

// key is one configured key.
type key struct {
	id   string
	aead cipher.AEAD
}

// Ring is the set of configured keys. It is safe for concurrent use.
type Ring struct {
	keys []key // keys[0] seals
	byID map[string]cipher.AEAD
}

// Parse reads a key list: entries "id:base64" (standard or URL base64 of
// 32 bytes) separated by commas or new lines; blank lines and lines
// starting with # are skipped. The first entry seals. Errors name the
// entry by its id or position, never the key.
func Parse(spec string) (*Ring, error) {
	r := &Ring{byID: map[string]cipher.AEAD{}}
	fields := strings.FieldsFunc(spec, func(c rune) bool { return c == ',' || c == '\n' })
	for i, f := range fields {
		f = strings.TrimSpace(f)
		if f == "" || strings.HasPrefix(f, "#") {
			continue
		}
		id, b64, ok := strings.Cut(f, ":")
		if !ok || !keyID.MatchString(id) {
			return nil, fmt.Errorf("key %d: must be id:base64, the id made of 1 to 32 letters, digits, _ or -", i+1)
		}
		raw, err := decodeKey(b64)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		if _, dup := r.byID[id]; dup {
			return nil, fmt.Errorf("key %q: configured twice", id)
		}
		aead, err := newAEAD(raw)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		r.keys = append(r.keys, key{id: id, aead: aead})
		r.byID[id] = aead
	}
	if len(r.keys) == 0 {
		return nil, errors.New("no key given")
	}
	return r, nil
}

// LoadFile reads a key list (see Parse) from a file.
func LoadFile(path string) (*Ring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	r, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return r, nil
}

func decodeKey(b64 string) ([]byte, error) {
	b64 = strings.TrimSpace(b64)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(b64); err == nil {
			if len(raw) != KeySize {
				return nil, fmt.Errorf("must be %d bytes, got %d", KeySize, len(raw))
			}
			return raw, nil
		}
	}
	return nil, errors.New("not base64")
}

func newAEAD(raw []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Generate returns a new key entry "id:base64" with a random 32-byte key
// and an id made of the given prefix and random hex.
func Generate() string {
	raw := make([]byte, KeySize)
	idBytes := make([]byte, 4)
	// crypto/rand.Read never fails (Go 1.24+: it crashes the program instead).
	_, _ = rand.Read(raw)
	_, _ = rand.Read(idBytes)
	return fmt.Sprintf("k%x:%s", idBytes, base64.StdEncoding.EncodeToString(raw))
}

// Primary returns the id of the key that seals.
func (r *Ring) Primary() string { return r.keys[0].id }

// IDs returns the configured key ids, the sealing one first.
func (r *Ring) IDs() []string {
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.id
	}
	return ids
}

// Seal encrypts plaintext under the first key with a fresh random nonce.
// The key id is authenticated with the ciphertext, so a value cannot be
// relabelled with another id.
func (r *Ring) Seal(plaintext string) string {
	k := r.keys[0]
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	_, _ = rand.Read(nonce)
	sealed := k.aead.Seal(nonce, nonce, []byte(plaintext), []byte(k.id))
	return Prefix + k.id + ":" + base64.RawURLEncoding.EncodeToString(sealed)
}

// Open decrypts a value made by Seal with any configured key. Errors wrap
// ErrUnknownKey or ErrWrongKey and name the key id.
func (r *Ring) Open(sealed string) (string, error) {
	id, data, err := split(sealed)
	if err != nil {
		return "", err
	}
	aead, ok := r.byID[id]
	if !ok {
		return "", fmt.Errorf("key %q: %w", id, ErrUnknownKey)
	}
	if len(data) < aead.NonceSize() {
		return "", fmt.Errorf("key %q: %w", id, ErrWrongKey)
	}
	plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
	if err != nil {
		return "", fmt.Errorf("key %q: %w", id, ErrWrongKey)
	}
	return string(plain), nil
}

// Reseal returns value sealed under the first key, and whether that is a
// change: a value in clear is sealed, a value sealed under another key is
// opened and sealed again, a value already under the first key is kept.
func (r *Ring) Reseal(value string) (string, bool, error) {
	if !IsSealed(value) {
		return r.Seal(value), true, nil
	}
	if KeyID(value) == r.Primary() {
		if _, err := r.Open(value); err != nil {
			return "", false, err
		}
		return value, false, nil
	}
	plain, err := r.Open(value)
	if err != nil {
		return "", false, err
	}
	return r.Seal(plain), true, nil
}

// IsSealed reports whether value is in the sealed form (as opposed to a
// plaintext written before encryption at rest).
func IsSealed(value string) bool { return strings.HasPrefix(value, Prefix) }

// KeyID returns the id of the key that sealed value, or "" when value is
// not sealed.
func KeyID(value string) string {
	id, _, err := split(value)
	if err != nil {
		return ""
	}
	return id
}

func split(sealed string) (string, []byte, error) {
	rest, ok := strings.CutPrefix(sealed, Prefix)
	if !ok {
		return "", nil, errors.New("not a sealed value")
	}
	id, b64, ok := strings.Cut(rest, ":")
	if !ok || !keyID.MatchString(id) {
		return "", nil, errors.New("sealed value without a valid key id")
	}
	data, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return "", nil, fmt.Errorf("key %q: sealed value is not base64", id)
	}
	return id, data, nil
}
