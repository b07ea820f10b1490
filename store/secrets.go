package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/keyring"
)

// The one place where secrets are encrypted on their way into a column and
// decrypted on their way out: secret predefined variable values (in
// flows.predefined_variables and in flow_versions.definition),
// flows.signing_secret (and the definition's copy) and flows.hook_secret.
// A new column holding a secret seals with seal and opens with open; the
// walk of keys.go (verify, seal plaintext, rotate) learns it from
// secretColumns.

// errNoKeys is returned when a secret is written or read through a Store
// made without a key ring.
var errNoKeys = errors.New("no encryption key configured (FLOWD_ENCRYPTION_KEYS or FLOWD_ENCRYPTION_KEY_FILE; `flowd keys generate` makes one)")

// seal returns plain as stored: sealed under the first key.
func (s *Store) seal(plain string) (string, error) {
	if s.keys == nil {
		return "", errNoKeys
	}
	return s.keys.Seal(plain), nil
}

// open returns the plaintext of a stored secret. A value still in clear
// (written before encryption at rest, sealed at the next start-up) is
// returned as it is.
func (s *Store) open(stored string) (string, error) {
	if !keyring.IsSealed(stored) {
		return stored, nil
	}
	if s.keys == nil {
		return "", errNoKeys
	}
	plain, err := s.keys.Open(stored)
	if err != nil {
		return "", fmt.Errorf("decrypt a stored secret: %w", err)
	}
	return plain, nil
}

// sealOptional seals a secret that may be absent (nil or "": NULL).
func (s *Store) sealOptional(plain *string) (*string, error) {
	if plain == nil || *plain == "" {
		return nil, nil
	}
	sealed, err := s.seal(*plain)
	return &sealed, err
}

// sealPredefined returns a copy of vs with each secret's value (its JSON
// text) sealed into a JSON string.
func (s *Store) sealPredefined(vs []flow.PredefinedVariable) ([]flow.PredefinedVariable, error) {
	out := slices.Clone(vs)
	for i := range out {
		if !out[i].Secret || len(out[i].Value) == 0 || string(out[i].Value) == "null" {
			continue
		}
		sealed, err := s.seal(string(out[i].Value))
		if err != nil {
			return nil, err
		}
		out[i].Value = mustJSON(sealed)
	}
	return out, nil
}

// openPredefined replaces, in place, each sealed secret value of vs by its
// JSON text.
func (s *Store) openPredefined(vs []flow.PredefinedVariable) error {
	for i := range vs {
		var sealed string
		if !vs[i].Secret || json.Unmarshal(vs[i].Value, &sealed) != nil || !keyring.IsSealed(sealed) {
			continue
		}
		plain, err := s.open(sealed)
		if err != nil {
			return fmt.Errorf("variable %q: %w", vs[i].Name, err)
		}
		vs[i].Value = json.RawMessage(plain)
	}
	return nil
}

// sealDefinition returns a copy of def with its secrets sealed.
func (s *Store) sealDefinition(def *flow.Definition) (*flow.Definition, error) {
	out := *def
	var err error
	if out.PredefinedVariables, err = s.sealPredefined(def.PredefinedVariables); err != nil {
		return nil, err
	}
	if def.SigningSecret != "" {
		if out.SigningSecret, err = s.seal(def.SigningSecret); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

// openDefinition opens, in place, the secrets of a stored definition.
func (s *Store) openDefinition(def *flow.Definition) error {
	if err := s.openPredefined(def.PredefinedVariables); err != nil {
		return err
	}
	plain, err := s.open(def.SigningSecret)
	if err != nil {
		return fmt.Errorf("signing_secret: %w", err)
	}
	def.SigningSecret = plain
	return nil
}
