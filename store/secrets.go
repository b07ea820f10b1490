package store

import (
	"bytes"
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
// flows.signing_secret and signing_secret_previous (signing.go),
// flows.hook_secret, and the trigger values of secret variables in
// executions.variables.
// A new column holding a secret seals with seal and opens with open; the
// walk of keys.go (verify, seal plaintext, rotate) learns it from the
// secretTable list of walkSecrets.

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

// sealedJSON returns the sealed value a JSON document holds as a string,
// and whether it holds one.
func sealedJSON(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil || !keyring.IsSealed(s) {
		return "", false
	}
	return s, true
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
		sealed, ok := sealedJSON(vs[i].Value)
		if !vs[i].Secret || !ok {
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
	out.PredefinedVariables, err = s.sealPredefined(def.PredefinedVariables)
	return &out, err
}

// SealVariables returns trigger variables (a JSON object) with the values
// of the secret variables names sealed: a value given at trigger time for
// a secret is a secret too. Each is stored as a sealed JSON string of its
// JSON text; ExecutionsGetForRun opens them for the worker, and answers show
// them as secrets.
//
// A value of any other variable that merely looks sealed (a string starting
// with keyring.Prefix, which a caller can send) is sealed as well: the
// readers open every such string, so stored as given it would fail to
// decrypt and stop its execution, the start-up key check and `flowd keys
// rotate`. Sealed, it comes back exactly as given (answers show it hidden,
// as a secret).
func (s *Store) SealVariables(vars json.RawMessage, names []string) (json.RawMessage, error) {
	lookalike := bytes.Contains(vars, []byte(keyring.Prefix))
	if (len(names) == 0 && !lookalike) || len(vars) == 0 || string(vars) == "null" {
		return vars, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(vars, &m); err != nil {
		return nil, fmt.Errorf("seal trigger variables: %w", err)
	}
	sealedAny := false
	for name, v := range m {
		_, looksSealed := sealedJSON(v)
		secret := slices.Contains(names, name) && string(v) != "null"
		if !secret && !looksSealed {
			continue
		}
		sealed, err := s.seal(string(v))
		if err != nil {
			return nil, err
		}
		m[name], sealedAny = mustJSON(sealed), true
	}
	if !sealedAny {
		return vars, nil
	}
	return mustJSON(m), nil
}

// openVariables opens, in place, the values SealVariables sealed in an
// execution's trigger variables.
func (s *Store) openVariables(e *flow.Execution) error {
	if !bytes.Contains(e.Variables, []byte(keyring.Prefix)) {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(e.Variables, &m); err != nil {
		return fmt.Errorf("execution %s variables: %w", e.ID, err)
	}
	for name, v := range m {
		sealed, ok := sealedJSON(v)
		if !ok {
			continue
		}
		plain, err := s.open(sealed)
		if err != nil {
			return fmt.Errorf("execution %s variable %q: %w", e.ID, name, err)
		}
		m[name] = json.RawMessage(plain)
	}
	e.Variables = mustJSON(m)
	return nil
}
